// The manifest of a checkpoint folder: every file it holds with its size, written last. A folder counts as a
// checkpoint only when its manifest is there and every file it lists is present with that size, so a folder
// that lost a file (a second run on the same output cleaned up what it took for its own debris, a disk that
// filled, a hand edit) is never resumed from. Sizes catch missing and truncated files; files whose bytes were
// changed in place fail when they are read, with the file named.
using System.Text.Json;
using System.Text.Json.Serialization;
using TltTrainer.IO;

namespace TltTrainer.Rl;

internal sealed record CheckpointManifest(
    [property: JsonPropertyName("format")] int Format,
    [property: JsonPropertyName("files")] IReadOnlyList<CheckpointManifest.Entry> Files)
{
    public const string FileName = "manifest.json";

    /// <summary>A file of the checkpoint: its path relative to the folder ('/'-separated) and its length in bytes.</summary>
    public sealed record Entry([property: JsonPropertyName("path")] string Path, [property: JsonPropertyName("bytes")] long Bytes);

    /// <summary>Lists every file under <paramref name="folder"/> and writes the manifest there (atomically, last).</summary>
    public static void Write(string folder)
    {
        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => new Entry(System.IO.Path.GetRelativePath(folder, f).Replace('\\', '/'), new FileInfo(f).Length))
            .Where(e => e.Path != FileName).OrderBy(e => e.Path, StringComparer.Ordinal).ToList();
        AtomicFile.WriteAllText(System.IO.Path.Combine(folder, FileName), JsonSerializer.Serialize(new CheckpointManifest(1, files), Indented));
    }

    /// <summary>Why <paramref name="folder"/> is not a complete checkpoint, or null when it is.</summary>
    public static string? Problem(string folder, string requiredFile)
    {
        if (!Directory.Exists(folder)) return "the folder does not exist";
        var path = System.IO.Path.Combine(folder, FileName);
        if (!File.Exists(path)) return $"it has no {FileName} (cut off while being written, or written by an older version)";
        CheckpointManifest? manifest;
        try { manifest = JsonSerializer.Deserialize<CheckpointManifest>(File.ReadAllText(path)); }
        catch (JsonException e) { return $"its {FileName} is not valid JSON ({e.Message})"; }
        if (manifest?.Files is null || manifest.Format != 1) return $"its {FileName} is not a format-1 manifest";
        if (!manifest.Files.Any(f => f.Path == requiredFile)) return $"its {FileName} does not list {requiredFile}";
        foreach (var f in manifest.Files)
        {
            var file = new FileInfo(System.IO.Path.Combine(folder, f.Path));
            if (!file.Exists) return $"{f.Path} is missing";
            if (file.Length != f.Bytes) return $"{f.Path} has {file.Length} bytes where the manifest says {f.Bytes}";
        }
        return null;
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
