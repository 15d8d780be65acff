// Parsing and validation of a safetensors header. Everything that can be checked without reading tensor
// data is checked here, once, so the reader can then copy bytes without further bounds checks:
// prefix and header lengths against the file length, JSON shape, dtype names, byte lengths against
// dtype size x shape (with overflow checks), offsets inside the data section, and no overlaps.
// Gaps between tensors are tolerated (harmless to a reader); overlaps are not (aliasing, polyglot files).
using System.Buffers.Binary;
using System.Text.Json;
using static TorchSharp.torch;

namespace TltTrainer.Models.SafeTensors;

/// <summary>The parsed, validated header of a safetensors file.</summary>
public sealed class SafeTensorsHeader
{
    /// <summary>The largest header accepted (100 MB, the limit of the reference implementation).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private SafeTensorsHeader(string filePath, IReadOnlyDictionary<string, SafeTensorInfo> tensors,
        IReadOnlyDictionary<string, string> metadata, long dataStart, long dataLength)
    {
        FilePath = filePath;
        Tensors = tensors;
        Metadata = metadata;
        DataStart = dataStart;
        DataLength = dataLength;
    }

    /// <summary>The file the header was read from.</summary>
    public string FilePath { get; }

    /// <summary>The tensors by name, enumerated in the order their data appears in the file.</summary>
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors { get; }

    /// <summary>The <c>__metadata__</c> map; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The absolute file offset of the data section: 8 plus the header length.</summary>
    public long DataStart { get; }

    /// <summary>The number of bytes from <see cref="DataStart"/> to the end of the file.</summary>
    public long DataLength { get; }

    /// <summary>Reads and validates the header at the start of <paramref name="stream"/>, leaving it positioned after the header.</summary>
    internal static SafeTensorsHeader Read(Stream stream, string path)
    {
        long fileLength = stream.Length;
        if (fileLength < 8)
            throw new SafeTensorsFormatException(path, null, $"file is {fileLength} bytes, shorter than the 8-byte header-length prefix");

        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > (ulong)(fileLength - 8))
            throw new SafeTensorsFormatException(path, null,
                $"header length is {headerLength} bytes but only {fileLength - 8} bytes follow the prefix (truncated file?)");
        if (headerLength > MaxHeaderBytes)
            throw new SafeTensorsFormatException(path, null, $"header length {headerLength} exceeds the limit of {MaxHeaderBytes} bytes");

        var json = new byte[headerLength];
        stream.ReadExactly(json);
        long dataStart = 8 + (long)headerLength;
        return Parse(json, path, dataStart, fileLength - dataStart);
    }

    private static SafeTensorsHeader Parse(byte[] json, string path, long dataStart, long dataLength)
    {
        using (var document = SafeTensorsJson.ParseObject(json, path, "header"))
        {
            JsonElement root = document.RootElement;

            var seen = new HashSet<string>(StringComparer.Ordinal);
            var infos = new List<SafeTensorInfo>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (JsonProperty property in root.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                    throw new SafeTensorsFormatException(path, property.Name, "key appears more than once in the header");
                if (property.Name == "__metadata__")
                    ReadMetadata(property.Value, path, metadata);
                else
                    infos.Add(ReadTensor(property, path, dataLength));
            }

            // Sort by data position so overlaps are adjacent, and so the reader walks the file forwards.
            infos.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            SafeTensorInfo? widest = null;
            var tensors = new Dictionary<string, SafeTensorInfo>(infos.Count, StringComparer.Ordinal);
            foreach (SafeTensorInfo info in infos)
            {
                if (widest is not null && info.ByteLength > 0 && info.Begin < widest.End)
                    throw new SafeTensorsFormatException(path, info.Name,
                        $"data_offsets [{info.Begin}, {info.End}] overlap tensor '{widest.Name}' at [{widest.Begin}, {widest.End}]");
                if (widest is null || info.End > widest.End)
                    widest = info;
                tensors.Add(info.Name, info);
            }
            return new SafeTensorsHeader(path, tensors, metadata, dataStart, dataLength);
        }
    }

    private static void ReadMetadata(JsonElement element, string path, Dictionary<string, string> metadata)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new SafeTensorsFormatException(path, null, $"__metadata__ must be an object of strings, found {element.ValueKind}");
        foreach (JsonProperty entry in element.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw new SafeTensorsFormatException(path, null,
                    $"__metadata__ value for '{entry.Name}' must be a string, found {entry.Value.ValueKind}");
            if (!metadata.TryAdd(entry.Name, entry.Value.GetString()!))
                throw new SafeTensorsFormatException(path, null, $"__metadata__ key '{entry.Name}' appears more than once");
        }
    }

    private static SafeTensorInfo ReadTensor(JsonProperty property, string path, long dataLength)
    {
        string name = property.Name;
        JsonElement entry = property.Value;
        if (entry.ValueKind != JsonValueKind.Object)
            throw new SafeTensorsFormatException(path, name, $"entry must be an object, found {entry.ValueKind}");

        JsonElement dtypeElement = Required(entry, "dtype", JsonValueKind.String, path, name);
        string dtypeName = dtypeElement.GetString()!;
        if (!SafeTensorsDType.TryParse(dtypeName, out ScalarType dtype))
            throw new SafeTensorsFormatException(path, name, $"unknown dtype '{dtypeName}'; supported: {SafeTensorsDType.Supported}");

        long[] shape = ReadIntegers(Required(entry, "shape", JsonValueKind.Array, path, name), "shape", path, name);
        long[] offsets = ReadIntegers(Required(entry, "data_offsets", JsonValueKind.Array, path, name), "data_offsets", path, name);
        if (offsets.Length != 2)
            throw new SafeTensorsFormatException(path, name, $"data_offsets must have 2 entries, found {offsets.Length}");
        (long begin, long end) = (offsets[0], offsets[1]);
        if (begin > end)
            throw new SafeTensorsFormatException(path, name, $"data_offsets begin {begin} is after end {end}");
        if (end > dataLength)
            throw new SafeTensorsFormatException(path, name,
                $"data_offsets [{begin}, {end}] reach past the data section of {dataLength} bytes (truncated file?)");

        long expected = ExpectedByteLength(shape, SafeTensorsDType.SizeOf(dtype), path, name);
        if (end - begin != expected)
            throw new SafeTensorsFormatException(path, name,
                $"data_offsets [{begin}, {end}] span {end - begin} bytes but {dtypeName} shape [{string.Join(", ", shape)}] needs {expected}");
        return new SafeTensorInfo(name, dtype, shape, begin, end);
    }

    private static JsonElement Required(JsonElement entry, string field, JsonValueKind kind, string path, string name)
    {
        if (!entry.TryGetProperty(field, out JsonElement value))
            throw new SafeTensorsFormatException(path, name, $"missing field '{field}'");
        if (value.ValueKind != kind)
            throw new SafeTensorsFormatException(path, name, $"field '{field}' must be {kind}, found {value.ValueKind}");
        return value;
    }

    private static long[] ReadIntegers(JsonElement array, string field, string path, string name)
    {
        var values = new long[array.GetArrayLength()];
        int i = 0;
        foreach (JsonElement item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long value) || value < 0)
                throw new SafeTensorsFormatException(path, name, $"field '{field}' must hold non-negative integers, found {item.GetRawText()}");
            values[i++] = value;
        }
        return values;
    }

    private static long ExpectedByteLength(long[] shape, int elementSize, string path, string name)
    {
        try
        {
            long bytes = elementSize;
            foreach (long dim in shape)
                bytes = checked(bytes * dim);
            return bytes;
        }
        catch (OverflowException)
        {
            throw new SafeTensorsFormatException(path, name, $"shape [{string.Join(", ", shape)}] is too large to address");
        }
    }
}
