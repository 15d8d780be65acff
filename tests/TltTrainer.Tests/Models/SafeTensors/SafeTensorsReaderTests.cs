using System.Text;
using TltTrainer.Models.SafeTensors;

namespace TltTrainer.Tests.Models.SafeTensors;

public sealed class SafeTensorsReaderTests
{
    [Fact]
    public void Load_HandBuiltFileFromSpec_ReadsValuesHeaderAndMetadata()
    {
        using var folder = new TempFolder();
        string path = folder.File("hand.safetensors");
        // Keys deliberately out of data order, metadata last, and trailing-space padding.
        string json = """{"b":{"dtype":"I32","shape":[3],"data_offsets":[8,20]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"""
            + """ "s":{"dtype":"BF16","shape":[],"data_offsets":[20,22]},"__metadata__":{"format":"pt","note":"hi"}}   """;
        byte[] data =
        [
            0x00, 0x00, 0xC0, 0x3F, // a[0] = 1.5f
            0x00, 0x00, 0x00, 0xC0, // a[1] = -2f
            0x01, 0x00, 0x00, 0x00, // b[0] = 1
            0xFF, 0xFF, 0xFF, 0xFF, // b[1] = -1
            0x00, 0x01, 0x00, 0x00, // b[2] = 256
            0x80, 0x3F,             // s = 1.0 (bf16)
        ];
        File.WriteAllBytes(path, Build(json, data));

        SafeTensorsHeader header = SafeTensorsReader.ReadHeader(path);
        Assert.Equal(["a", "b", "s"], header.Tensors.Keys);
        SafeTensorInfo b0 = header.Tensors["b"];
        Assert.Equal((ScalarType.Int32, 8L, 20L, 12L), (b0.DType, b0.Begin, b0.End, b0.ByteLength));
        Assert.Equal([3L], b0.Shape);
        Assert.Equal("hi", header.Metadata["note"]);
        Assert.Equal(8 + Encoding.UTF8.GetByteCount(json), header.DataStart);
        Assert.Equal(22, header.DataLength);

        Dictionary<string, Tensor> loaded = SafeTensorsReader.Load(path);
        using Tensor a = loaded["a"], b = loaded["b"], s = loaded["s"];
        Assert.Equal([1.5f, -2f], a.data<float>().ToArray());
        Assert.Equal([1, -1, 256], b.data<int>().ToArray());
        Assert.Equal(ScalarType.BFloat16, s.dtype);
        Assert.Empty(s.shape);
        Assert.Equal(1f, s.to_type(ScalarType.Float32).item<float>());
    }

    [Fact]
    public void ReadHeader_FileShorterThanPrefix_ThrowsNamingFile()
    {
        using var folder = new TempFolder();
        string path = folder.File("short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5]);
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsReader.ReadHeader(path));
        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path, e.Message);
        Assert.Contains("5 bytes", e.Message);
    }

    [Fact]
    public void Load_HeaderLengthBeyondFile_ThrowsWithBothLengths()
    {
        using var folder = new TempFolder();
        string path = folder.File("cut.safetensors");
        byte[] full = Build("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", new byte[4]);
        File.WriteAllBytes(path, full.AsSpan(0, 30).ToArray()); // cut inside the header
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsReader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains($"{full.Length - 12}", e.Message); // declared header length
        Assert.Contains("22", e.Message);                 // bytes actually after the prefix
    }

    [Fact]
    public void Load_CorruptJson_ThrowsNamingFile()
    {
        var e = LoadInvalid("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]""", new byte[4]);
        Assert.Contains("not valid JSON", e.Message);
        Assert.IsType<System.Text.Json.JsonException>(e.InnerException, exactMatch: false);
    }

    [Fact]
    public void Load_UnknownDtype_ThrowsNamingTensorAndDtype()
    {
        var e = LoadInvalid("""{"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}""", new byte[8]);
        Assert.Equal("w", e.TensorName);
        Assert.Contains("tensor 'w'", e.Message);
        Assert.Contains("'C64'", e.Message);
    }

    [Fact]
    public void Load_OffsetsNotMatchingShape_ThrowsWithExpectedAndActualSize()
    {
        var e = LoadInvalid("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}""", new byte[12]);
        Assert.Equal("w", e.TensorName);
        Assert.Contains("span 12 bytes", e.Message);
        Assert.Contains("needs 8", e.Message);
    }

    [Fact]
    public void Load_OffsetsPastDataSection_ThrowsNamingTensor()
    {
        var e = LoadInvalid("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", new byte[4]);
        Assert.Equal("w", e.TensorName);
        Assert.Contains("data section of 4 bytes", e.Message);
    }

    [Fact]
    public void Load_OverlappingTensors_ThrowsNamingBoth()
    {
        var e = LoadInvalid("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", new byte[12]);
        Assert.Equal("b", e.TensorName);
        Assert.Contains("'a'", e.Message);
    }

    [Theory]
    [InlineData("""{"w":{"shape":[1],"data_offsets":[0,4]}}""", "missing field 'dtype'")]
    [InlineData("""{"w":{"dtype":"F32","data_offsets":[0,4]}}""", "missing field 'shape'")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1]}}""", "missing field 'data_offsets'")]
    [InlineData("""{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", "non-negative integers")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}""", "2 entries")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", "more than once")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"n":1}}""", "must be a string")]
    public void Load_MalformedEntry_ThrowsSaying(string json, string expected)
    {
        var e = LoadInvalid(json, new byte[4]);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Load_WrittenFileTruncatedInData_ThrowsNamingLastTensor()
    {
        using var folder = new TempFolder();
        string path = folder.File("x.safetensors");
        using Tensor a = ones(4);
        using Tensor z = ones(4);
        SafeTensorsWriter.Save(path, new Dictionary<string, Tensor> { ["a"] = a, ["z"] = z });
        using (var stream = new FileStream(path, FileMode.Open))
            stream.SetLength(stream.Length - 1);
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsReader.Load(path));
        Assert.Equal("z", e.TensorName);
        Assert.Contains(path, e.Message);
    }

    /// <summary>The file format: u64 little-endian header length, the JSON header, then the data section.</summary>
    internal static byte[] Build(string json, byte[] data)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        var file = new byte[8 + header.Length + data.Length];
        ulong n = (ulong)header.Length;
        for (int i = 0; i < 8; i++)
            file[i] = (byte)(n >> (8 * i));
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return file;
    }

    private static SafeTensorsFormatException LoadInvalid(string json, byte[] data)
    {
        using var folder = new TempFolder();
        string path = folder.File("bad.safetensors");
        File.WriteAllBytes(path, Build(json, data));
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsReader.Load(path));
        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path + ": ", e.Message);
        return e;
    }
}
