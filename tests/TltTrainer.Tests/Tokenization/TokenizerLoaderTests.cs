using TltTrainer.Tests.TestSupport;
using TltTrainer.Tokenization;

namespace TltTrainer.Tests.Tokenization;

/// <summary>Folder discovery and the errors for missing inputs.</summary>
public sealed class TokenizerLoaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void FromDirectory_NoTokenizerFiles_ThrowsFileNotFoundNamingFolderAndFiles()
    {
        _dir.Write("config.json", "{}");

        var ex = Assert.Throws<FileNotFoundException>(() => TokenizerLoader.FromDirectory(_dir.Path));

        Assert.Contains(_dir.Path, ex.Message);
        foreach (string file in new[] { "tokenizer.json", "vocab.json", "merges.txt", "tokenizer.model" })
        {
            Assert.Contains(file, ex.Message);
        }
    }

    [Fact]
    public void FromDirectory_MissingFolder_ThrowsDirectoryNotFoundNamingIt()
    {
        string missing = Path.Combine(_dir.Path, "nope");

        var ex = Assert.Throws<DirectoryNotFoundException>(() => TokenizerLoader.FromDirectory(missing));

        Assert.Contains(missing, ex.Message);
    }

    [Fact]
    public void FromTokenizerJson_MissingFile_ThrowsFileNotFoundNamingIt()
    {
        string missing = Path.Combine(_dir.Path, "tokenizer.json");

        var ex = Assert.Throws<FileNotFoundException>(() => TokenizerLoader.FromTokenizerJson(missing));

        Assert.Contains(missing, ex.Message);
        Assert.Equal(missing, ex.FileName);
    }

    [Fact]
    public void FromVocabAndMerges_MissingMerges_ThrowsFileNotFoundNamingIt()
    {
        string vocab = _dir.Write("vocab.json", "{\"a\": 0}");
        string missing = Path.Combine(_dir.Path, "merges.txt");

        var ex = Assert.Throws<FileNotFoundException>(() => TokenizerLoader.FromVocabAndMerges(vocab, missing));

        Assert.Contains(missing, ex.Message);
    }

    [Fact]
    public void FromDirectory_MalformedConfig_ThrowsInvalidDataNamingIt()
    {
        _dir.Write("vocab.json", "{\"a\": 0}");
        _dir.Write("merges.txt", "");
        string config = _dir.Write("tokenizer_config.json", "{ not json");

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.FromDirectory(_dir.Path));

        Assert.Contains(config, ex.Message);
    }
}
