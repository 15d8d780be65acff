// Atomic file replacement: write everything to a uniquely named temporary file in the target's folder,
// flush it to disk, then rename it over the target. Readers see either the old file or the complete new
// one, never a torn write; a crash leaves at worst a stray "*.tmp-*" file. The temporary file sits in the
// same folder because a rename is only atomic within one file system. The folder entry itself is not
// fsync-ed (.NET has no portable way to), so a power loss right after the rename may still lose it.
using System.Security.Cryptography;
using System.Text;

namespace TltTrainer.IO;

/// <summary>Writes files so that a reader or a crash never observes a partially written file.</summary>
public static class AtomicFile
{
    /// <summary>
    /// Creates or replaces <paramref name="path"/> with what <paramref name="write"/> writes to the stream it is given.
    /// </summary>
    /// <param name="path">The file to create or replace. Its folder must exist.</param>
    /// <param name="write">Writes the whole content; it must not dispose the stream.</param>
    /// <remarks>
    /// The content goes to <c>path + ".tmp-&lt;random&gt;"</c>, is flushed to disk, and is then renamed over
    /// <paramref name="path"/>. If <paramref name="write"/> or any later step throws, the temporary file is deleted,
    /// the target is left as it was, and the exception propagates.
    /// </remarks>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or names a folder.</exception>
    /// <exception cref="DirectoryNotFoundException">The target's folder does not exist.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string target = Path.GetFullPath(path);
        if (Directory.Exists(target))
            throw new ArgumentException($"'{target}' is a folder, not a file.", nameof(path));

        string temp = target + ".tmp-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(6)).ToLowerInvariant();
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, target, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Atomically creates or replaces <paramref name="path"/> with <paramref name="bytes"/>.</summary>
    /// <param name="path">The file to create or replace. Its folder must exist.</param>
    /// <param name="bytes">The complete new content.</param>
    public static void WriteAllBytes(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        Write(path, stream => stream.Write(bytes));
    }

    /// <summary>Atomically creates or replaces <paramref name="path"/> with <paramref name="text"/>.</summary>
    /// <param name="path">The file to create or replace. Its folder must exist.</param>
    /// <param name="text">The complete new content.</param>
    /// <param name="encoding">The encoding; UTF-8 by default. No byte-order mark is written.</param>
    public static void WriteAllText(string path, string text, Encoding? encoding = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        byte[] bytes = (encoding ?? Encoding.UTF8).GetBytes(text);
        Write(path, stream => stream.Write(bytes));
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: the original exception matters more than a leftover temporary file.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
