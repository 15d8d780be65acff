using TltTrainer.Tokenization;

namespace TltTrainer.Tests.TestSupport;

/// <summary>Tokenizers the tests build themselves.</summary>
internal static class TestTokenizers
{
    /// <summary>A character-level tokenizer (ids: 0 pad, 1 BOS, 2 EOS, then one per character) loaded through the library from a tokenizer.json it writes.</summary>
    public static ITextTokenizer CharLevel(string alphabet, TempDirectory dir) =>
        CharTokenizerFile.Create(alphabet, Path.Combine(dir.Path, "tokenizer.json"));
}
