// Everything a BPE tokenizer needs, gathered from whichever files described it
// (tokenizer.json, or vocab.json + merges.txt + tokenizer_config.json), before anything is built.
using System.Text.RegularExpressions;

namespace TltTrainer.Tokenization;

/// <summary>A token listed outside the BPE vocabulary proper (HF <c>added_tokens</c>).</summary>
/// <param name="Content">The literal string matched in text.</param>
/// <param name="Id">Its id.</param>
/// <param name="Special">Special tokens are dropped by <c>Decode(ids, skipSpecialTokens: true)</c>.</param>
/// <param name="Normalized">Matched after normalization (true) or in the raw text (false).</param>
internal sealed record AddedToken(string Content, int Id, bool Special, bool Normalized);

/// <summary>How ids become text again (HF's <c>decoder</c> section).</summary>
/// <param name="ByteLevel">Token characters are GPT-2's printable stand-ins for bytes.</param>
/// <param name="ByteFallback">Tokens written <c>&lt;0xAB&gt;</c> are raw bytes.</param>
/// <param name="Replacements">Literal replacements applied to every ordinary token, in order.</param>
/// <param name="StripLeadingSpaces">Spaces removed from the start of the text when the prefix is on by default.</param>
internal sealed record TokenDecoderSpec(
    bool ByteLevel,
    bool ByteFallback,
    IReadOnlyList<(string From, string To)> Replacements,
    int StripLeadingSpaces);

internal sealed record BpeSpec
{
    /// <summary>The file the spec came from, for error messages.</summary>
    public required string SourcePath { get; init; }

    public required IReadOnlyDictionary<string, int> Vocabulary { get; init; }

    /// <summary>Merges as "left right", highest priority first.</summary>
    public required IReadOnlyList<string> Merges { get; init; }

    public IReadOnlyList<AddedToken> AddedTokens { get; init; } = [];

    public string? UnknownToken { get; init; }

    public bool FuseUnknown { get; init; }

    public bool ByteFallback { get; init; }

    /// <summary>HF <c>ignore_merges</c>: a word that is itself in the vocabulary is one token.</summary>
    public bool IgnoreMerges { get; init; }

    public bool ByteLevel { get; init; }

    /// <summary>Byte-level <c>add_prefix_space</c>: a space before text that does not start with whitespace.</summary>
    public bool AddPrefixSpace { get; init; }

    public TextNormalizer? Normalizer { get; init; }

    /// <summary>Word-splitting regex, or null to treat each run between special tokens as one word.</summary>
    public Regex? WordPattern { get; init; }

    public required TokenDecoderSpec Decoder { get; init; }

    /// <summary>Special token the post-processor puts first (its BOS), if any.</summary>
    public string? TemplateBos { get; init; }

    /// <summary>Special token the post-processor puts last (its EOS), if any.</summary>
    public string? TemplateEos { get; init; }
}
