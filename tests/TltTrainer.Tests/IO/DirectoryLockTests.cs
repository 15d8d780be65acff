using System.Diagnostics;
using TltTrainer.IO;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.IO;

public sealed class DirectoryLockTests
{
    [Fact]
    public void Acquire_WhileHeld_ThrowsNamingTheFolderAndTheHolder_AndSucceedsOnceReleased()
    {
        using var dir = new TempDirectory();
        string folder = Path.Combine(dir.Path, "out");
        using (DirectoryLock.Acquire(folder, "--out"))
        {
            var e = Assert.Throws<IOException>(() => DirectoryLock.Acquire(folder, "--out"));
            Assert.Contains("--out", e.Message);
            Assert.Contains(Path.GetFullPath(folder), e.Message);
            Assert.Contains($"process {Environment.ProcessId}", e.Message);
        }
        using var again = DirectoryLock.Acquire(folder, "--out");              // released: a later run takes it over
        Assert.Equal(Path.GetFullPath(folder), again.Directory);
    }

    [Fact]
    public void Dispose_OfAFolderItCreatedAndNothingWasWrittenIn_RemovesIt_ButKeepsAnyOther()
    {
        using var dir = new TempDirectory();
        string fresh = Path.Combine(dir.Path, "fresh"), used = Path.Combine(dir.Path, "used"), existing = Path.Combine(dir.Path, "existing");
        DirectoryLock.Acquire(fresh).Dispose();
        Assert.False(Directory.Exists(fresh));
        using (DirectoryLock.Acquire(used)) File.WriteAllText(Path.Combine(used, "metrics.jsonl"), "{}\n");
        Assert.True(File.Exists(Path.Combine(used, "metrics.jsonl")));
        Directory.CreateDirectory(existing);
        DirectoryLock.Acquire(existing).Dispose();
        Assert.True(Directory.Exists(existing));
    }

    [Fact]
    public void Acquire_HeldByAnotherProcess_IsRefused_AndAKilledHolderReleasesIt()
    {
        using var dir = new TempDirectory();
        string folder = Path.Combine(dir.Path, "out");
        // `flock` (util-linux) holds the same kind of lock .NET takes, from another process, until it is killed.
        string lockFile = Path.Combine(folder, DirectoryLock.LockFileName);
        Directory.CreateDirectory(folder);
        File.WriteAllText(lockFile, "");
        using var holder = Process.Start(new ProcessStartInfo("flock", new[] { "--exclusive", "--close", lockFile, "sh", "-c", "echo locked; exec sleep 600" })
        {
            UseShellExecute = false, RedirectStandardOutput = true,
        })!;
        try
        {
            Assert.Equal("locked", holder.StandardOutput.ReadLine());           // printed once the holder has the lock
            var e = Assert.Throws<IOException>(() => DirectoryLock.Acquire(folder, "--out"));
            Assert.Contains("in use by another run", e.Message);
        }
        finally
        {
            holder.Kill(entireProcessTree: true);
            holder.WaitForExit();
        }
        using var taken = DirectoryLock.Acquire(folder);                        // kill -9 of the holder freed it
    }
}
