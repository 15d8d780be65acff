// Also compiled into tests/TltTrainer.MpiHost (linked in its project file), which has no TempDirectory.
using System.Text.Json;
using TltTrainer.Tokenization;

namespace TltTrainer.Tests.TestSupport;

/// <summary>Writes and loads a character-level tokenizer.json (ids: 0 pad, 1 BOS, 2 EOS, then one per character).</summary>
internal static class CharTokenizerFile
{
    /// <summary>Writes the tokenizer for <paramref name="alphabet"/> to <paramref name="path"/> and loads it through the library.</summary>
    public static ITextTokenizer Create(string alphabet, string path)
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
        File.WriteAllText(path, JsonSerializer.Serialize(json));
        return TokenizerLoader.FromTokenizerJson(path, new TokenizerLoadOptions
        {
            BosToken = "<s>", EosToken = "</s>", PadToken = "<pad>", EncodeDefaults = new EncodeOptions { AddBos = true },
        });
    }
}
