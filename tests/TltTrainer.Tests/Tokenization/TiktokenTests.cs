using System.Text;
using TltTrainer.Tests.TestSupport;
using TltTrainer.Tokenization;

namespace TltTrainer.Tests.Tokenization;

/// <summary>A .tiktoken file written by the test: every byte, then "he", "the", " the" (rank is merge priority).</summary>
public sealed class TiktokenTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _path;

    public TiktokenTests()
    {
        var lines = Enumerable.Range(0, 256).Select(b => $"{Convert.ToBase64String(new[] { (byte)b })} {b}")
            .Concat(new[] { "he", "the", " the" }.Select((t, i) => $"{Convert.ToBase64String(Encoding.UTF8.GetBytes(t))} {256 + i}"));
        _path = _dir.Write("tiny.tiktoken", string.Join('\n', lines) + "\n");
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Encode_TinyRanks_MergesByRankAndRoundTrips()
    {
        var tokenizer = TokenizerLoader.FromTiktoken(_path, TokenizerFlavor.Cl100kBase, new TokenizerLoadOptions
        {
            SpecialTokens = new Dictionary<string, int> { ["<|endoftext|>"] = 259 },
            EosToken = "<|endoftext|>",
        });
        string text = "the the caf\u00e9<|endoftext|>";

        var ids = tokenizer.Encode(text);

        Assert.Equal(new[] { 257, 258 }, ids.Take(2));
        Assert.Equal(259, ids[^1]);
        Assert.Equal(text, tokenizer.Decode(ids));
        Assert.Equal("the the caf\u00e9", tokenizer.Decode(ids, skipSpecialTokens: true));
        Assert.Equal(260, tokenizer.VocabularySize);
        Assert.Equal(259, tokenizer.EosId);
        Assert.Equal("\u0120the", tokenizer.GetToken(258));
    }

    [Fact]
    public void FromTiktoken_BadLine_ThrowsInvalidDataNamingFileAndLine()
    {
        string path = _dir.Write("bad.tiktoken", "YQ== 0\nnot-base64! 1\n");

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.FromTiktoken(path, TokenizerFlavor.Cl100kBase));

        Assert.Contains(path, ex.Message);
        Assert.Contains("line 2", ex.Message);
    }
}
