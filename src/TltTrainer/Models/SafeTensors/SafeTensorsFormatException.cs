// One exception type for every way a safetensors file or shard index can be malformed, so callers can
// tell "bad checkpoint" apart from I/O failures. The message always starts with the file path (and the
// tensor name where one applies) because a checkpoint is usually many files and many tensors.
// It derives from IOException because System.IO.InvalidDataException is sealed; a corrupt file is an
// I/O-level failure to callers that catch IOException around loading.
namespace TltTrainer.Models.SafeTensors;

/// <summary>A safetensors file, or a sharded checkpoint's index, does not follow the format.</summary>
public sealed class SafeTensorsFormatException : IOException
{
    /// <summary>Creates the exception; the message becomes <c>"&lt;path&gt;: tensor '&lt;name&gt;': &lt;problem&gt;"</c>.</summary>
    /// <param name="filePath">The offending file.</param>
    /// <param name="tensorName">The offending tensor, or <see langword="null"/> when the problem is not about one tensor.</param>
    /// <param name="problem">What is wrong, with expected and actual values.</param>
    /// <param name="innerException">The underlying error, if any (for example a JSON parse error).</param>
    public SafeTensorsFormatException(string filePath, string? tensorName, string problem, Exception? innerException = null)
        : base(Compose(filePath, tensorName, problem), innerException)
    {
        FilePath = filePath;
        TensorName = tensorName;
    }

    /// <summary>The file that is malformed.</summary>
    public string FilePath { get; }

    /// <summary>The tensor the problem concerns, or <see langword="null"/> for file-level problems.</summary>
    public string? TensorName { get; }

    private static string Compose(string filePath, string? tensorName, string problem) =>
        tensorName is null ? $"{filePath}: {problem}" : $"{filePath}: tensor '{tensorName}': {problem}";
}
