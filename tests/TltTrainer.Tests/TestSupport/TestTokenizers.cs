using System.Text.Json;
using TltTrainer.Tokenization;

namespace TltTrainer.Tests.TestSupport;

/// <summary>Tokenizers the tests build themselves.</summary>
internal static class TestTokenizers
{
    /// <summary>A character-level tokenizer (ids: 0 pad, 1 BOS, 2 EOS, then one per character) loaded through the library from a tokenizer.json it writes.</summary>
    public static ITextTokenizer CharLevel(string alphabet, TempDirectory dir)
    {
        var vocab = new Dictionary<string, int> { ["<pad>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };
        foreach (var c in alphabet) vocab[c.ToString()] = vocab.Count;
        var json = new
        {
            version = "1.0",
            added_tokens = new[]
            {
                new { id = 0, content = "<pad>", special = true }, new { id = 1, content = "<s>", special = true }, new { id = 2, content = "</s>", special = true },
            },
            normalizer = (object?)null,
            pre_tokenizer = (object?)null,
            model = new { type = "BPE", vocab, merges = Array.Empty<string>(), unk_token = "<pad>" },
        };
        var path = dir.Write("tokenizer.json", JsonSerializer.Serialize(json));
        return TokenizerLoader.FromTokenizerJson(path, new TokenizerLoadOptions
        {
            BosToken = "<s>", EosToken = "</s>", PadToken = "<pad>", EncodeDefaults = new EncodeOptions { AddBos = true },
        });
    }
}
