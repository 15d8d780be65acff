using TltTrainer.IO;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.IO;

public sealed class AtomicDirectoryTests
{
    [Fact]
    public void Write_NewFolder_CreatesItWithContentAndNoHiddenSiblingLeft()
    {
        using var root = new TempDirectory();
        string target = Path.Combine(root.Path, "out");
        AtomicDirectory.Write(target, dir => File.WriteAllText(Path.Combine(dir, "a.txt"), "x"));
        Assert.Equal("x", File.ReadAllText(Path.Combine(target, "a.txt")));
        Assert.Equal([target], Directory.GetFileSystemEntries(root.Path));
    }

    [Fact]
    public void Write_ExistingEmptyFolder_FillsIt()
    {
        using var root = new TempDirectory();
        string target = Directory.CreateDirectory(Path.Combine(root.Path, "out")).FullName;
        AtomicDirectory.Write(target, dir => File.WriteAllText(Path.Combine(dir, "a.txt"), "x"));
        Assert.Equal(["a.txt"], Directory.GetFiles(target).Select(Path.GetFileName));
    }

    [Fact]
    public void Write_NonEmptyFolderWithoutOverwrite_ThrowsBeforeWritingAndLeavesItAlone()
    {
        using var root = new TempDirectory();
        string target = Directory.CreateDirectory(Path.Combine(root.Path, "out")).FullName;
        File.WriteAllText(Path.Combine(target, "keep.txt"), "mine");
        bool called = false;
        var e = Assert.Throws<IOException>(() => AtomicDirectory.Write(target, _ => called = true));
        Assert.Contains("not empty", e.Message);
        Assert.False(called);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(target, "keep.txt")));
        Assert.Single(Directory.GetFileSystemEntries(target));
        Assert.Equal([target], Directory.GetFileSystemEntries(root.Path));
    }

    [Fact]
    public void Write_WithOverwrite_ReplacesTheWholeFolder()
    {
        using var root = new TempDirectory();
        string target = Directory.CreateDirectory(Path.Combine(root.Path, "out")).FullName;
        File.WriteAllText(Path.Combine(target, "old.txt"), "old");
        AtomicDirectory.Write(target, dir => File.WriteAllText(Path.Combine(dir, "new.txt"), "new"), overwrite: true);
        Assert.Equal(["new.txt"], Directory.GetFiles(target).Select(Path.GetFileName));
        Assert.Equal([target], Directory.GetFileSystemEntries(root.Path));
    }

    [Fact]
    public void Write_WriterThrows_LeavesNoFolderAndNoTemp()
    {
        using var root = new TempDirectory();
        string target = Path.Combine(root.Path, "out");
        Assert.Throws<InvalidOperationException>(() => AtomicDirectory.Write(target, dir =>
        {
            File.WriteAllText(Path.Combine(dir, "half.txt"), "x");
            throw new InvalidOperationException("boom");
        }));
        Assert.Empty(Directory.GetFileSystemEntries(root.Path));
    }

    [Fact]
    public void Write_WriterThrowsWithOverwrite_KeepsTheOldFolder()
    {
        using var root = new TempDirectory();
        string target = Directory.CreateDirectory(Path.Combine(root.Path, "out")).FullName;
        File.WriteAllText(Path.Combine(target, "old.txt"), "old");
        Assert.Throws<InvalidOperationException>(() => AtomicDirectory.Write(target, _ => throw new InvalidOperationException("boom"), overwrite: true));
        Assert.Equal("old", File.ReadAllText(Path.Combine(target, "old.txt")));
        Assert.Equal([target], Directory.GetFileSystemEntries(root.Path));
    }

    [Fact]
    public void Write_PathIsAFile_Throws()
    {
        using var root = new TempDirectory();
        string file = root.Write("f", "x");
        Assert.Throws<IOException>(() => AtomicDirectory.Write(file, _ => { }));
        Assert.Equal("x", File.ReadAllText(file));
    }
}
