// Atomic folder creation: the whole folder is written under a hidden temporary name next to the target
// and renamed into place at the end, so a reader (or a crash) sees either no folder, the previous one, or
// the complete new one, never a folder with some files missing. A rename is atomic only within one file
// system, hence the sibling. Replacing an existing folder takes two renames (old one aside, new one in);
// between them the path is briefly absent, and a failure of the second rename puts the old one back.
using System.Security.Cryptography;

namespace TltTrainer.IO;

/// <summary>Creates folders so that a reader or a crash never observes a partially written one.</summary>
public static class AtomicDirectory
{
    /// <summary>
    /// Creates <paramref name="path"/> with the files that <paramref name="write"/> puts into the folder it is given.
    /// </summary>
    /// <param name="path">The folder to create. Its parent is created if missing.</param>
    /// <param name="write">Writes the folder's whole content into the (empty, temporary) folder whose path it receives.</param>
    /// <param name="overwrite">
    /// Whether an existing non-empty folder at <paramref name="path"/> is replaced (the caller decides whether that is
    /// safe). An existing empty folder is always replaced.
    /// </param>
    /// <remarks>
    /// If <paramref name="write"/> or any later step throws, the temporary folder is deleted, whatever was at
    /// <paramref name="path"/> is left as it was, and the exception propagates.
    /// </remarks>
    /// <exception cref="IOException"><paramref name="path"/> is a file, or a non-empty folder and <paramref name="overwrite"/> is false.</exception>
    public static void Write(string path, Action<string> write, bool overwrite = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        string parent = Path.GetDirectoryName(target) ?? throw new ArgumentException($"'{target}' has no parent folder.", nameof(path));
        if (File.Exists(target)) throw new IOException($"'{target}' is a file, not a folder.");
        CheckReplaceable(target, overwrite);
        Directory.CreateDirectory(parent);

        string temp = Sibling(target, "tmp");
        Directory.CreateDirectory(temp);
        try
        {
            write(temp);
            MoveIntoPlace(temp, target, overwrite);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void CheckReplaceable(string target, bool overwrite)
    {
        if (Directory.Exists(target) && !overwrite && Directory.EnumerateFileSystemEntries(target).Any())
            throw new IOException($"'{target}' exists and is not empty; nothing was written (allow overwriting to replace it).");
    }

    private static void MoveIntoPlace(string temp, string target, bool overwrite)
    {
        if (!Directory.Exists(target))
        {
            Directory.Move(temp, target);
            return;
        }
        CheckReplaceable(target, overwrite); // again: it may have been filled while we wrote
        string old = Sibling(target, "old");
        Directory.Move(target, old);
        try
        {
            Directory.Move(temp, target);
        }
        catch
        {
            Directory.Move(old, target);
            throw;
        }
        TryDelete(old);
    }

    private static string Sibling(string target, string kind) =>
        Path.Combine(Path.GetDirectoryName(target)!,
            "." + Path.GetFileName(target) + "." + kind + "-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(6)).ToLowerInvariant());

    private static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the original exception (or the completed write) matters more than a leftover hidden folder.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
