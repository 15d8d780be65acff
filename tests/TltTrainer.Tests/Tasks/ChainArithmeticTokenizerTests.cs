using TltTrainer.Models;
using TltTrainer.Tasks;

namespace TltTrainer.Tests.Tasks;

public sealed class ChainArithmeticTokenizerTests
{
    private readonly ChainArithmeticTokenizer _tokenizer = ChainArithmeticTokenizer.Instance;

    [Fact]
    public void Ids_AreFixed()
    {
        Assert.Equal(0, _tokenizer.PadId);
        Assert.Equal(1, _tokenizer.BosId);
        Assert.Equal(2, _tokenizer.EosId);
        Assert.Equal(new[] { 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17 }, _tokenizer.Encode("0123456789+=;A:"));
        Assert.Equal(19, _tokenizer.VocabularySize);
        Assert.True(_tokenizer.VocabularySize <= TransformerPresets.EmbeddedDefault.VocabSize);
    }

    [Fact]
    public void EncodeDecode_TaskText_RoundTrips()
    {
        var task = new ChainArithmeticTask(new ChainArithmeticOptions { Seed = 5 });
        foreach (var e in task.Sample(200))
        {
            string text = e.Prompt + e.Response;
            int[] ids = _tokenizer.Encode(text);
            Assert.Equal(text.Length, ids.Length);
            Assert.Equal(text, _tokenizer.Decode(ids));
        }
    }

    [Fact]
    public void Decode_SpecialTokens_AreDropped() =>
        Assert.Equal("3+4=", _tokenizer.Decode(new[] { 1, 6, 13, 7, 14, 2, 0, 0 }));

    [Fact]
    public void Encode_Empty_IsEmpty() => Assert.Empty(_tokenizer.Encode(""));

    [Theory]
    [InlineData("3+4 =", ' ')]
    [InlineData("3*4=", '*')]
    [InlineData("a:1", 'a')]
    public void Encode_UnknownCharacter_ThrowsNamingIt(string text, char bad)
    {
        var e = Assert.Throws<ArgumentException>(() => _tokenizer.Encode(text));
        Assert.Contains($"'{bad}'", e.Message);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(19)]
    public void Decode_IdOutOfRange_Throws(int id) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => _tokenizer.Decode(new[] { 3, id }));
}
