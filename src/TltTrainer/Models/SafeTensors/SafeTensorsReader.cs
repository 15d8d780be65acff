// Loads safetensors files into CPU tensors. The header is validated in full first (SafeTensorsHeader),
// then each tensor is allocated with torch.empty and its storage filled straight from the file: no
// intermediate managed arrays, and a single forward pass over the file in data order. Tensors are
// owned by the caller; if loading fails part-way, the tensors already made are disposed.
using static TorchSharp.torch;

namespace TltTrainer.Models.SafeTensors;

/// <summary>Reads <c>.safetensors</c> files (headers, metadata and tensors).</summary>
public static class SafeTensorsReader
{
    /// <summary>Reads and validates only the header of a safetensors file: tensor names, dtypes, shapes, offsets and metadata.</summary>
    /// <param name="path">The <c>.safetensors</c> file.</param>
    /// <returns>The validated header.</returns>
    /// <exception cref="SafeTensorsFormatException">The header is malformed or inconsistent with the file's length.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static SafeTensorsHeader ReadHeader(string path)
    {
        using FileStream stream = OpenRead(path);
        return SafeTensorsHeader.Read(stream, path);
    }

    /// <summary>Reads the <c>__metadata__</c> map of a safetensors file (empty if it has none).</summary>
    /// <param name="path">The <c>.safetensors</c> file.</param>
    /// <returns>The metadata entries.</returns>
    /// <exception cref="SafeTensorsFormatException">The header is malformed.</exception>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path) => ReadHeader(path).Metadata;

    /// <summary>Loads the tensors of a safetensors file as contiguous CPU tensors that the caller owns and must dispose.</summary>
    /// <param name="path">The <c>.safetensors</c> file.</param>
    /// <param name="include">Which tensor names to load; all of them when <see langword="null"/>.</param>
    /// <returns>The tensors by name.</returns>
    /// <exception cref="SafeTensorsFormatException">The file is malformed; the message names the file and, where applicable, the tensor.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static Dictionary<string, Tensor> Load(string path, Func<string, bool>? include = null)
    {
        using FileStream stream = OpenRead(path);
        SafeTensorsHeader header = SafeTensorsHeader.Read(stream, path);
        IEnumerable<SafeTensorInfo> wanted = header.Tensors.Values;
        if (include is not null)
            wanted = wanted.Where(info => include(info.Name));
        return ReadTensors(stream, header, wanted);
    }

    internal static FileStream OpenRead(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        // Unbuffered: tensor reads are large and go straight into native memory.
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
    }

    /// <summary>Reads <paramref name="infos"/>, which must come from <paramref name="header"/> and be in data order.</summary>
    internal static Dictionary<string, Tensor> ReadTensors(Stream stream, SafeTensorsHeader header, IEnumerable<SafeTensorInfo> infos)
    {
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        SafeTensorInfo? current = null;
        try
        {
            foreach (SafeTensorInfo info in infos)
            {
                current = info;
                long position = header.DataStart + info.Begin;
                if (stream.Position != position)
                    stream.Position = position;
                Tensor tensor = empty(info.Shape.ToArray(), info.DType);
                tensors.Add(info.Name, tensor);
                TensorBytes.ReadFrom(stream, tensor);
            }
            return tensors;
        }
        catch (EndOfStreamException e)
        {
            Dispose(tensors);
            // The header checked the length, so the file changed underneath us.
            throw new SafeTensorsFormatException(header.FilePath, current?.Name, "file ended before the tensor's data (modified while reading?)", e);
        }
        catch
        {
            Dispose(tensors);
            throw;
        }
    }

    private static void Dispose(Dictionary<string, Tensor> tensors)
    {
        foreach (Tensor tensor in tensors.Values)
            tensor.Dispose();
    }
}
