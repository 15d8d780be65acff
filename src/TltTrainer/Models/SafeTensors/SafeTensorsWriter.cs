// Writes safetensors files. Choices: tensors in ordinal name order with their data back to back in the
// same order (deterministic output for equal input); the header is padded with spaces so the data
// section starts at a multiple of 8 bytes; __metadata__ always carries "format": "pt" because
// HuggingFace transformers refuses files without it; tensors on another device or with non-contiguous
// strides are copied to contiguous CPU one at a time, so peak extra memory is one tensor. Files are
// replaced atomically (AtomicFile).
using System.Text.Json;
using TltTrainer.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace TltTrainer.Models.SafeTensors;

/// <summary>Writes <c>.safetensors</c> files.</summary>
public static class SafeTensorsWriter
{
    /// <summary>
    /// Atomically creates or replaces <paramref name="path"/> with <paramref name="tensors"/> in safetensors format.
    /// </summary>
    /// <param name="path">The file to write; its folder must exist.</param>
    /// <param name="tensors">The tensors by name; any device, layout and supported dtype. They are not modified.</param>
    /// <param name="metadata">Extra <c>__metadata__</c> entries; <c>"format": "pt"</c> is added unless given here.</param>
    /// <exception cref="ArgumentException">A tensor has a dtype safetensors cannot store here, or is named <c>__metadata__</c>.</exception>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        AtomicFile.Write(path, stream => Write(stream, tensors, metadata));
    }

    /// <summary>Writes <paramref name="tensors"/> in safetensors format to <paramref name="stream"/>, starting at its current position.</summary>
    /// <param name="stream">A writable stream; it is left open.</param>
    /// <param name="tensors">The tensors by name; any device, layout and supported dtype. They are not modified.</param>
    /// <param name="metadata">Extra <c>__metadata__</c> entries; <c>"format": "pt"</c> is added unless given here.</param>
    /// <exception cref="ArgumentException">A tensor has a dtype safetensors cannot store here, or is named <c>__metadata__</c>.</exception>
    public static void Write(Stream stream, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        Validate(tensors);
        string[] names = tensors.Keys.Order(StringComparer.Ordinal).ToArray();

        byte[] header = BuildHeader(names, tensors, metadata);
        Span<byte> prefix = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);

        foreach (string name in names)
        {
            Tensor tensor = tensors[name];
            if (tensor.device_type == DeviceType.CPU && tensor.is_contiguous())
            {
                TensorBytes.WriteTo(stream, tensor);
                continue;
            }
            // Copies made here die with the scope; the caller's tensor was not made in it and survives.
            using var scope = NewDisposeScope();
            Tensor cpuTensor = tensor.device_type == DeviceType.CPU ? tensor : tensor.cpu();
            TensorBytes.WriteTo(stream, cpuTensor.is_contiguous() ? cpuTensor : cpuTensor.contiguous());
        }
        stream.Flush();
    }

    /// <summary>The number of data bytes <paramref name="tensor"/> takes in a safetensors file.</summary>
    internal static long DataBytes(Tensor tensor) => tensor.NumberOfElements * SafeTensorsDType.SizeOf(tensor.dtype);

    /// <summary>Throws <see cref="ArgumentException"/> for a reserved name or an unsupported dtype.</summary>
    internal static void Validate(IReadOnlyDictionary<string, Tensor> tensors)
    {
        foreach ((string name, Tensor tensor) in tensors)
        {
            if (name == "__metadata__")
                throw new ArgumentException("A tensor cannot be named '__metadata__': the key is reserved for metadata.", nameof(tensors));
            if (SafeTensorsDType.NameOf(tensor.dtype) is null)
                throw new ArgumentException(
                    $"Tensor '{name}' has dtype {tensor.dtype}; supported: {SafeTensorsDType.Supported}.", nameof(tensors));
        }
    }

    private static byte[] BuildHeader(string[] names, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("__metadata__");
            if (metadata is null || !metadata.ContainsKey("format"))
                writer.WriteString("format", "pt");
            foreach ((string key, string value) in (metadata ?? new Dictionary<string, string>()).OrderBy(e => e.Key, StringComparer.Ordinal))
                writer.WriteString(key, value);
            writer.WriteEndObject();

            long offset = 0;
            foreach (string name in names)
            {
                Tensor tensor = tensors[name];
                long length = DataBytes(tensor);
                writer.WriteStartObject(name);
                writer.WriteString("dtype", SafeTensorsDType.NameOf(tensor.dtype));
                writer.WriteStartArray("shape");
                foreach (long dim in tensor.shape)
                    writer.WriteNumberValue(dim);
                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                writer.WriteNumberValue(offset + length);
                writer.WriteEndArray();
                writer.WriteEndObject();
                offset += length;
            }
            writer.WriteEndObject();
        }

        // Pad with spaces (valid JSON whitespace) so that 8 + header length is a multiple of 8.
        int padding = (int)((8 - json.Length % 8) % 8);
        for (int i = 0; i < padding; i++)
            json.WriteByte((byte)' ');
        return json.ToArray();
    }
}
