using System.Text.Json;
using TltTrainer.Tests.TestSupport;
using TltTrainer.Tokenization;

namespace TltTrainer.Tests.Tokenization;

/// <summary>GPT-2-style vocab.json + merges.txt written by the test: 256 byte tokens plus a few merges.</summary>
public sealed class ByteLevelBpeTests : IDisposable
{
    private const string EndOfText = "<|endoftext|>";
    private readonly TempDirectory _dir = new();
    private readonly string _vocabPath;
    private readonly string _mergesPath;

    public ByteLevelBpeTests()
    {
        // Ids 0-255 are the bytes, spelled in GPT-2's byte alphabet; 256+ are merged tokens.
        var vocab = Enumerable.Range(0, 256).ToDictionary(b => ByteChar((byte)b).ToString(), b => b);
        foreach (string token in new[] { "he", "the", "\u0120the", "12", EndOfText })
        {
            vocab[token] = vocab.Count;
        }

        _vocabPath = _dir.Write("vocab.json", JsonSerializer.Serialize(vocab));
        _mergesPath = _dir.Write("merges.txt", "#version: 0.2\nh e\nt he\n\u0120 the\n1 2\n");
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>GPT-2's table, written out independently: printable bytes map to themselves, the rest to U+0100 onwards.</summary>
    private static char ByteChar(byte value)
    {
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char)b : (char)next++;
            if (b == value)
            {
                return c;
            }
        }

        throw new InvalidOperationException();
    }

    [Fact]
    public void Encode_Gpt2Flavor_MergesWordsWithTheirLeadingSpace()
    {
        var tokenizer = TokenizerLoader.FromVocabAndMerges(_vocabPath, _mergesPath);

        var ids = tokenizer.Encode("the the");

        Assert.Equal(new[] { "the", "\u0120the" }, ids.Select(tokenizer.GetToken));
        Assert.Equal(261, tokenizer.VocabularySize);
    }

    [Fact]
    public void EncodeDecode_MixedText_RoundTripsThroughByteTokens()
    {
        var tokenizer = TokenizerLoader.FromVocabAndMerges(_vocabPath, _mergesPath);
        string text = "the caf\u00e9\n\tsaid \u2603 12 \U0001F600!";

        var ids = tokenizer.Encode(text);

        Assert.Equal(text, tokenizer.Decode(ids));
        Assert.Equal(new[] { 0xC3, 0xA9 }, ids.Skip(5).Take(2));
    }

    [Fact]
    public void Encode_AddPrefixSpace_AddsTheSpaceGpt2Omits()
    {
        var tokenizer = TokenizerLoader.FromVocabAndMerges(_vocabPath, _mergesPath);

        Assert.Equal(new[] { "\u0120the" }, tokenizer.Encode("the", new EncodeOptions { AddPrefixSpace = true }).Select(tokenizer.GetToken));
    }

    [Fact]
    public void Encode_DigitsUnderEachFlavor_Gpt2KeepsRunQwen2SplitsSingly()
    {
        var gpt2 = TokenizerLoader.FromVocabAndMerges(_vocabPath, _mergesPath, TokenizerFlavor.Gpt2);
        var qwen2 = TokenizerLoader.FromVocabAndMerges(_vocabPath, _mergesPath, TokenizerFlavor.Qwen2);

        Assert.Equal(new[] { "12" }, gpt2.Encode("12").Select(gpt2.GetToken));
        Assert.Equal(new[] { "1", "2" }, qwen2.Encode("12").Select(qwen2.GetToken));
        Assert.Equal("a 12", qwen2.Decode(qwen2.Encode("a 12")));
    }

    [Fact]
    public void Encode_SpecialTokenFromOptions_IsOneIdAndSkippable()
    {
        var tokenizer = TokenizerLoader.FromVocabAndMerges(_vocabPath, _mergesPath, options: new TokenizerLoadOptions
        {
            SpecialTokens = new Dictionary<string, int> { [EndOfText] = 260 },
            EosToken = EndOfText,
        });

        var ids = tokenizer.Encode("the" + EndOfText, new EncodeOptions { AddEos = true });

        Assert.Equal(new[] { 257, 260, 260 }, ids);
        Assert.Equal("the", tokenizer.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void FromDirectory_VocabMergesAndQwenConfig_UsesQwen2FlavorAndConfigEos()
    {
        _dir.Write("tokenizer_config.json", """
            { "tokenizer_class": "Qwen2Tokenizer", "eos_token": "<|endoftext|>", "bos_token": null,
              "added_tokens_decoder": { "260": { "content": "<|endoftext|>", "special": true } } }
            """);

        var tokenizer = TokenizerLoader.FromDirectory(_dir.Path);

        Assert.Equal(new[] { "1", "2" }, tokenizer.Encode("12").Select(tokenizer.GetToken));
        Assert.Equal(260, tokenizer.EosId);
        Assert.Null(tokenizer.BosId);
    }

    [Fact]
    public void FromVocabAndMerges_BadMergeLine_ThrowsInvalidDataNamingFileAndLine()
    {
        string merges = _dir.Write("bad-merges.txt", "#version: 0.2\nh e\nthe\n");

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.FromVocabAndMerges(_vocabPath, merges));

        Assert.Contains(merges, ex.Message);
        Assert.Contains("line 3", ex.Message);
    }

    [Fact]
    public void FromVocabAndMerges_MalformedVocabJson_ThrowsInvalidDataNamingFile()
    {
        string vocab = _dir.Write("bad-vocab.json", "{\"a\": 0,");

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.FromVocabAndMerges(vocab, _mergesPath));

        Assert.Contains(vocab, ex.Message);
    }
}
