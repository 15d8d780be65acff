// Load-time overrides. Everything is optional: loaders read what they can from the files and these win.
namespace TltTrainer.Tokenization;

/// <summary>Optional settings for the <see cref="TokenizerLoader"/> methods.</summary>
public sealed record TokenizerLoadOptions
{
    /// <summary>BOS token string; overrides <c>tokenizer_config.json</c> and what <c>tokenizer.json</c>'s post-processor implies. Default <see langword="null"/>.</summary>
    public string? BosToken { get; init; }

    /// <summary>EOS token string; overrides the configuration files. Default <see langword="null"/>.</summary>
    public string? EosToken { get; init; }

    /// <summary>Padding token string; overrides the configuration files. Default <see langword="null"/>.</summary>
    public string? PadToken { get; init; }

    /// <summary>
    /// Extra special tokens (string to id) recognised in text and decoded as written, for vocabularies whose files do
    /// not list them, such as a bare <c>.tiktoken</c> file. Default <see langword="null"/>.
    /// </summary>
    public IReadOnlyDictionary<string, int>? SpecialTokens { get; init; }

    /// <summary>Options used by <see cref="ITextTokenizer.Encode(string)"/>. Default <see cref="EncodeOptions.Default"/>.</summary>
    public EncodeOptions EncodeDefaults { get; init; } = EncodeOptions.Default;
}
