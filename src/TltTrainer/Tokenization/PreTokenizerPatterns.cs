// The word-splitting regexes of the byte-level BPE families, written for .NET's regex engine
// (tiktoken's originals use possessive quantifiers, which .NET lacks; these are the forms the HF
// tokenizer.json files publish, which agree on ordinary text).
using System.Text.RegularExpressions;

namespace TltTrainer.Tokenization;

internal static class PreTokenizerPatterns
{
    internal const string Gpt2 =
        @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    internal const string Qwen2 =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    internal const string Cl100kBase =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    internal const string O200kBase =
        @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
        @"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
        @"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    internal static Regex Create(TokenizerFlavor flavor) => Create(flavor switch
    {
        TokenizerFlavor.Gpt2 => Gpt2,
        TokenizerFlavor.Qwen2 => Qwen2,
        TokenizerFlavor.Cl100kBase => Cl100kBase,
        TokenizerFlavor.O200kBase => O200kBase,
        _ => throw new ArgumentOutOfRangeException(nameof(flavor), flavor,
            "Valid flavours: Gpt2, Qwen2, Cl100kBase, O200kBase."),
    });

    internal static Regex Create(string pattern) => new(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
}
