using System.Text.Json.Nodes;
using TltTrainer.Tests.TestSupport;
using TltTrainer.Tokenization;

namespace TltTrainer.Tests.Tokenization;

/// <summary>tokenizer.json mapping on small files written by the tests.</summary>
public sealed class TokenizerJsonTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A SentencePiece-style BPE: "▁" for spaces, all 256 byte tokens, merges given as [a, b] pairs.</summary>
    private static JsonObject SentencePieceStyle()
    {
        var vocab = new JsonObject { ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };
        for (int b = 0; b < 256; b++)
        {
            vocab[$"<0x{b:X2}>"] = 3 + b;
        }

        foreach (string token in new[] { "\u2581", "h", "i", "o", "\u2581h", "hi", "\u2581hi" })
        {
            vocab[token] = vocab.Count;
        }

        return new JsonObject
        {
            ["added_tokens"] = new JsonArray(
                new JsonObject { ["id"] = 0, ["content"] = "<unk>", ["special"] = true, ["normalized"] = false },
                new JsonObject { ["id"] = 1, ["content"] = "<s>", ["special"] = true, ["normalized"] = false },
                new JsonObject { ["id"] = 2, ["content"] = "</s>", ["special"] = true, ["normalized"] = false }),
            ["normalizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["normalizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Prepend", ["prepend"] = "\u2581" },
                    new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "\u2581" }),
            },
            ["pre_tokenizer"] = null,
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(
                    new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<s>", ["type_id"] = 0 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
            },
            ["decoder"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["decoders"] = new JsonArray(
                    new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = "\u2581" }, ["content"] = " " },
                    new JsonObject { ["type"] = "ByteFallback" },
                    new JsonObject { ["type"] = "Fuse" },
                    new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 1, ["stop"] = 0 }),
            },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["unk_token"] = "<unk>",
                ["fuse_unk"] = true,
                ["byte_fallback"] = true,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray(new JsonArray("h", "i"), new JsonArray("\u2581", "hi"), new JsonArray("\u2581", "h")),
            },
        };
    }

    private string Write(JsonObject json) => _dir.Write("tokenizer.json", json.ToJsonString());

    [Fact]
    public void Encode_CharactersOutsideVocabulary_UseByteFallbackTokensAndRoundTrip()
    {
        var tokenizer = TokenizerLoader.FromTokenizerJson(Write(SentencePieceStyle()));
        string text = "hi \u2603 hi\nna\u00efve \U0001F600";

        var ids = tokenizer.Encode(text);

        Assert.Equal(text, tokenizer.Decode(ids));
        Assert.Equal(new[] { "\u2581hi", "\u2581", "<0xE2>", "<0x98>", "<0x83>", "\u2581hi", "<0x0A>" }, ids.Take(7).Select(tokenizer.GetToken));
    }

    [Fact]
    public void Decode_ByteFallbackToken_BecomesTheByte()
    {
        var tokenizer = TokenizerLoader.FromTokenizerJson(Write(SentencePieceStyle()));

        Assert.Equal("hi\nhi", tokenizer.Decode(new[] { tokenizer.GetId("\u2581hi")!.Value, tokenizer.GetId("<0x0A>")!.Value, tokenizer.GetId("hi")!.Value }));
    }

    [Fact]
    public void Encode_AddPrefixSpaceFalse_OmitsLeadingMarkerAndAddBosPrependsTemplateToken()
    {
        var tokenizer = TokenizerLoader.FromTokenizerJson(Write(SentencePieceStyle()));

        var ids = tokenizer.Encode("hi hi", new EncodeOptions { AddPrefixSpace = false, AddBos = true });

        Assert.Equal(new[] { "<s>", "hi", "\u2581hi" }, ids.Select(tokenizer.GetToken));
    }

    [Fact]
    public void Encode_StringMergesAndPairMerges_GiveTheSameIds()
    {
        var pairs = SentencePieceStyle();
        var strings = SentencePieceStyle();
        strings["model"]!["merges"] = new JsonArray("h i", "\u2581 hi", "\u2581 h");
        var fromPairs = TokenizerLoader.FromTokenizerJson(Write(pairs));
        var fromStrings = TokenizerLoader.FromTokenizerJson(_dir.Write("strings.json", strings.ToJsonString()));

        Assert.Equal(fromPairs.Encode("hi ho hi"), fromStrings.Encode("hi ho hi"));
    }

    [Fact]
    public void FromTokenizerJson_WordPieceModel_ThrowsNotSupportedNamingFileAndModel()
    {
        var json = SentencePieceStyle();
        json["model"] = new JsonObject { ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["vocab"] = new JsonObject { ["[UNK]"] = 0 } };
        string path = Write(json);

        var ex = Assert.Throws<NotSupportedException>(() => TokenizerLoader.FromTokenizerJson(path));

        Assert.Contains(path, ex.Message);
        Assert.Contains("WordPiece", ex.Message);
    }

    [Fact]
    public void FromTokenizerJson_UnknownNormalizer_ThrowsNotSupportedNamingIt()
    {
        var json = SentencePieceStyle();
        json["normalizer"] = new JsonObject { ["type"] = "BertNormalizer" };

        var ex = Assert.Throws<NotSupportedException>(() => TokenizerLoader.FromTokenizerJson(Write(json)));

        Assert.Contains("BertNormalizer", ex.Message);
    }

    [Fact]
    public void FromTokenizerJson_MalformedJson_ThrowsInvalidDataNamingFile()
    {
        string path = _dir.Write("tokenizer.json", "{ \"model\": { \"type\": \"BPE\", ");

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.FromTokenizerJson(path));

        Assert.Contains(path, ex.Message);
    }

    [Fact]
    public void FromTokenizerJson_MergeOfUnknownToken_ThrowsInvalidDataNamingFile()
    {
        var json = SentencePieceStyle();
        json["model"]!["merges"] = new JsonArray(new JsonArray("h", "zz"));
        string path = Write(json);

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.FromTokenizerJson(path));

        Assert.Contains(path, ex.Message);
    }
}
