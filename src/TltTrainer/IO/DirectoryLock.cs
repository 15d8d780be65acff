// An exclusive claim on a folder for the life of a process: one run writes into an output folder at a
// time. The claim is an operating-system lock on DIR/.lock (on Linux and macOS .NET takes it with flock
// when a file is opened without sharing), so it ends with the process however the process ends, kill -9
// included, and a stale lock file never blocks the next run. Who holds it (process id, host, start time)
// is written beside it in DIR/.lock.owner for the error message a second run shows. A folder the lock itself
// created, and in which nothing else was written, is removed again on release, so a run that fails on its
// inputs leaves no folder behind.
using System.Diagnostics;
using System.Globalization;

namespace TltTrainer.IO;

/// <summary>An exclusive lock on a folder, held until disposed or until the process ends.</summary>
public sealed class DirectoryLock : IDisposable
{
    /// <summary>Name of the lock file inside the folder.</summary>
    public const string LockFileName = ".lock";

    /// <summary>Name of the file beside it that says who holds the lock.</summary>
    public const string OwnerFileName = ".lock.owner";

    private readonly FileStream _stream;
    private readonly bool _created;

    private DirectoryLock(string directory, FileStream stream, bool created)
    {
        Directory = directory;
        _stream = stream;
        _created = created;
    }

    /// <summary>The locked folder (full path).</summary>
    public string Directory { get; }

    /// <summary>Creates <paramref name="directory"/> if needed and locks it.</summary>
    /// <param name="directory">The folder.</param>
    /// <param name="what">What the folder is, for the error message (e.g. <c>--out</c>).</param>
    /// <exception cref="IOException">Another process (or another lock in this one) holds the folder; the message names the folder and the holder.</exception>
    public static DirectoryLock Acquire(string directory, string what = "folder")
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        bool created = !System.IO.Directory.Exists(full);
        System.IO.Directory.CreateDirectory(full);
        string lockPath = Path.Combine(full, LockFileName), ownerPath = Path.Combine(full, OwnerFileName);
        FileStream stream;
        try
        {
            stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            string holder = File.Exists(ownerPath) ? File.ReadAllText(ownerPath).Trim() : "another process";
            throw new IOException($"{what}: '{full}' is in use by another run ({holder}); wait for it to finish or choose another folder.", e);
        }
        using var self = Process.GetCurrentProcess();
        File.WriteAllText(ownerPath, string.Create(CultureInfo.InvariantCulture,
            $"process {Environment.ProcessId} on {Environment.MachineName}, started {self.StartTime.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC"));
        return new DirectoryLock(full, stream, created);
    }

    /// <summary>Releases the lock. Its files stay (a later run takes the lock over), unless the lock created the folder and nothing else was written in it: then the folder goes.</summary>
    public void Dispose()
    {
        bool untouched = _created && System.IO.Directory.EnumerateFileSystemEntries(Directory)
            .All(e => Path.GetFileName(e) is LockFileName or OwnerFileName);
        if (untouched)
        {
            try { File.Delete(Path.Combine(Directory, OwnerFileName)); }
            catch (IOException) { untouched = false; }
        }
        _stream.Dispose();
        if (!untouched) return;
        try
        {
            File.Delete(Path.Combine(Directory, LockFileName));
            System.IO.Directory.Delete(Directory);
        }
        catch (IOException) { }                    // another run took it meanwhile, or wrote into it: leave it
        catch (UnauthorizedAccessException) { }
    }
}
