// Per-call encode switches. A record so callers derive variants with `with { AddBos = true }`.
namespace TltTrainer.Tokenization;

/// <summary>How <see cref="ITextTokenizer.Encode(string, EncodeOptions)"/> frames the text.</summary>
public sealed record EncodeOptions
{
    /// <summary>No BOS, no EOS, prefix space as the tokenizer files say.</summary>
    public static EncodeOptions Default { get; } = new();

    /// <summary>Prepend <see cref="ITextTokenizer.BosId"/>. Default <see langword="false"/>.</summary>
    public bool AddBos { get; init; }

    /// <summary>Append <see cref="ITextTokenizer.EosId"/>. Default <see langword="false"/>.</summary>
    public bool AddEos { get; init; }

    /// <summary>
    /// Whether a word-boundary marker goes in front of the text: the "▁" a SentencePiece-style normalizer
    /// prepends, or the space of a byte-level tokenizer's <c>add_prefix_space</c>.
    /// <see langword="null"/> (the default) keeps what the tokenizer files say.
    /// </summary>
    /// <remarks>
    /// TinyStories-656K was trained on text encoded <em>without</em> the "▁" its <c>tokenizer.json</c> prepends, so
    /// encode its inputs with <c>AddPrefixSpace = false</c>. Decoding strips one leading space only when the
    /// tokenizer's default is to add the prefix, so text round-trips under the tokenizer's own default.
    /// </remarks>
    public bool? AddPrefixSpace { get; init; }
}
