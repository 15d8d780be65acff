using TltTrainer.IO;

namespace TltTrainer.Tests.IO;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tlt-atomic-" + Guid.NewGuid().ToString("N"));

    public AtomicFileTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void WriteAllText_NewFile_CreatesItWithContentAndNoTempLeft()
    {
        string path = Path.Combine(_folder, "a.txt");
        AtomicFile.WriteAllText(path, "héllo");
        Assert.Equal("héllo", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(_folder));
    }

    [Fact]
    public void WriteAllBytes_ExistingFile_ReplacesContent()
    {
        string path = Path.Combine(_folder, "a.bin");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5]);
        AtomicFile.WriteAllBytes(path, [9]);
        Assert.Equal([9], File.ReadAllBytes(path));
    }

    [Fact]
    public void Write_WriterThrows_KeepsOldContentAndDeletesTemp()
    {
        string path = Path.Combine(_folder, "a.txt");
        File.WriteAllText(path, "old");
        var e = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write("partial"u8);
            throw new InvalidOperationException("boom");
        }));
        Assert.Equal("boom", e.Message);
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(_folder));
    }

    [Fact]
    public void Write_WhileWriting_TargetStillHasOldContentAndTempIsBesideIt()
    {
        string path = Path.Combine(_folder, "a.txt");
        File.WriteAllText(path, "old");
        AtomicFile.Write(path, stream =>
        {
            stream.Write("new"u8);
            Assert.Equal("old", File.ReadAllText(path));
            string temp = Assert.Single(Directory.GetFiles(_folder), f => f != path);
            Assert.StartsWith(path + ".tmp-", temp);
        });
        Assert.Equal("new", File.ReadAllText(path));
    }

    [Fact]
    public void Write_MissingFolder_ThrowsDirectoryNotFound()
    {
        string path = Path.Combine(_folder, "missing", "a.txt");
        Assert.Throws<DirectoryNotFoundException>(() => AtomicFile.WriteAllText(path, "x"));
    }
}
