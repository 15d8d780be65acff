using System.Buffers.Binary;
using System.Text.Json;
using TltTrainer.Models.SafeTensors;

namespace TltTrainer.Tests.Models.SafeTensors;

public sealed class SafeTensorsRoundTripTests
{
    /// <summary>Special bit patterns per dtype: NaN payloads (quiet, signalling, negative), ±0, ±inf, subnormals, extremes.</summary>
    private static readonly Dictionary<ScalarType, byte[]> Specials = new()
    {
        [ScalarType.Float32] = Bytes<uint>(0x7FC00001, 0x7F800001, 0xFFC12345, 0x80000000, 0x00000000, 0x7F800000, 0xFF800000,
            0x00000001, 0x007FFFFF, 0x80000001, 0x7F7FFFFF, 0x3F800000),
        [ScalarType.Float16] = Bytes<ushort>(0x7E01, 0x7C01, 0xFE00, 0x8000, 0x0000, 0x7C00, 0xFC00, 0x0001, 0x03FF, 0x8001, 0x7BFF, 0x3C00),
        [ScalarType.BFloat16] = Bytes<ushort>(0x7FC1, 0x7F81, 0xFF81, 0x8000, 0x0000, 0x7F80, 0xFF80, 0x0001, 0x007F, 0x8001, 0x7F7F, 0x3F80),
        [ScalarType.Float64] = Bytes<ulong>(0x7FF8000000000001, 0x7FF0000000000001, 0x8000000000000000, 0x7FF0000000000000,
            0xFFF0000000000000, 0x0000000000000001, 0x3FF0000000000000, 0xFFFFFFFFFFFFFFFF),
        [ScalarType.Int64] = Bytes<ulong>(0x8000000000000000, 0x7FFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF, 0, 1, 0x0102030405060708),
        [ScalarType.Bool] = [0, 1, 1, 0, 0, 1],
    };

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Int64)]
    [InlineData(ScalarType.Int32)]
    [InlineData(ScalarType.Int16)]
    [InlineData(ScalarType.Int8)]
    [InlineData(ScalarType.Byte)]
    [InlineData(ScalarType.Bool)]
    public void SaveLoad_EveryDtypeWithSpecialValues_IsBitExact(ScalarType dtype)
    {
        using var folder = new TempFolder();
        string path = folder.File("x.safetensors");
        byte[] specials = Specials.GetValueOrDefault(dtype) ?? [];
        using Tensor special = FromBytes(specials, dtype, [specials.Length / ElementSize(dtype)]);
        using Tensor random = FromBytes(RandomBytes(dtype, 2 * 3 * 5, seed: (int)dtype), dtype, [2, 3, 5]);
        using Tensor scalar = FromBytes(RandomBytes(dtype, 1, seed: 7), dtype, []);
        using Tensor emptyTensor = empty([0, 4], dtype);

        SafeTensorsWriter.Save(path, new Dictionary<string, Tensor> { ["special"] = special, ["random"] = random, ["scalar"] = scalar, ["empty"] = emptyTensor });
        Dictionary<string, Tensor> loaded = SafeTensorsReader.Load(path);
        try
        {
            Assert.Equal(["empty", "random", "scalar", "special"], loaded.Keys.Order());
            foreach ((string name, Tensor original) in new[] { ("special", special), ("random", random), ("scalar", scalar), ("empty", emptyTensor) })
            {
                Assert.Equal(dtype, loaded[name].dtype);
                Assert.Equal(original.shape, loaded[name].shape);
                Assert.Equal(original.bytes.ToArray(), loaded[name].bytes.ToArray());
            }
        }
        finally
        {
            foreach (Tensor t in loaded.Values)
                t.Dispose();
        }
    }

    [Fact]
    public void Save_AnyTensors_WritesFormatPtMetadataAlignedSortedHeader()
    {
        using var folder = new TempFolder();
        string path = folder.File("x.safetensors");
        using Tensor b = ones(3, dtype: ScalarType.Float32);
        using Tensor a = zeros(2, 2, dtype: ScalarType.BFloat16);
        using Tensor c = ones(1, dtype: ScalarType.Bool);
        SafeTensorsWriter.Save(path, new Dictionary<string, Tensor> { ["b"] = b, ["c"] = c, ["a"] = a }, new Dictionary<string, string> { ["step"] = "12" });

        // Parse the raw file independently of our reader.
        byte[] file = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        Assert.Equal(0, (8 + headerLength) % 8);
        Assert.Equal(8 + headerLength + 8 + 12 + 1, file.Length);
        using JsonDocument header = JsonDocument.Parse(file.AsMemory(8, (int)headerLength));
        JsonElement meta = header.RootElement.GetProperty("__metadata__");
        Assert.Equal("pt", meta.GetProperty("format").GetString());
        Assert.Equal("12", meta.GetProperty("step").GetString());
        string[] names = header.RootElement.EnumerateObject().Select(p => p.Name).Where(n => n != "__metadata__").ToArray();
        Assert.Equal(["a", "b", "c"], names);
        Assert.Equal([0L, 8L], header.RootElement.GetProperty("a").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal([8L, 20L], header.RootElement.GetProperty("b").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal("BOOL", header.RootElement.GetProperty("c").GetProperty("dtype").GetString());

        IReadOnlyDictionary<string, string> metadata = SafeTensorsReader.ReadMetadata(path);
        Assert.Equal("pt", metadata["format"]);
        Assert.Equal("12", metadata["step"]);
    }

    [Fact]
    public void Save_NonContiguousTensor_WritesContiguousValuesAndLeavesInputAlive()
    {
        using var folder = new TempFolder();
        string path = folder.File("x.safetensors");
        using Tensor flat = arange(6, dtype: ScalarType.Float32);
        using Tensor baseTensor = flat.view(2, 3);
        using Tensor transposed = baseTensor.t();
        Assert.False(transposed.is_contiguous());

        SafeTensorsWriter.Save(path, new Dictionary<string, Tensor> { ["t"] = transposed });
        Dictionary<string, Tensor> loaded = SafeTensorsReader.Load(path);
        using Tensor result = loaded["t"];
        Assert.Equal([3L, 2L], result.shape);
        Assert.Equal([0f, 3f, 1f, 4f, 2f, 5f], result.data<float>().ToArray());
        Assert.Equal(4f, transposed[1, 1].item<float>());
    }

    [Fact]
    public void SaveLoad_NonContiguousTensorThenDisposeLoaded_LeavesNoLiveTensors()
    {
        using var folder = new TempFolder();
        string path = folder.File("x.safetensors");
        using Tensor baseTensor = ones(4, 3);
        using Tensor transposed = baseTensor.t();
        long baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        SafeTensorsWriter.Save(path, new Dictionary<string, Tensor> { ["t"] = transposed, ["b"] = baseTensor });
        foreach (Tensor t in SafeTensorsReader.Load(path).Values)
            t.Dispose();

        Assert.Equal(baseline, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Save_UnsupportedDtype_ThrowsArgumentExceptionAndWritesNothing()
    {
        using var folder = new TempFolder();
        using Tensor complexTensor = zeros(2, dtype: ScalarType.ComplexFloat32);
        var e = Assert.Throws<ArgumentException>(() =>
            SafeTensorsWriter.Save(folder.File("x.safetensors"), new Dictionary<string, Tensor> { ["z"] = complexTensor }));
        Assert.Contains("'z'", e.Message);
        Assert.Empty(Directory.GetFiles(folder.Path));
    }

    [Fact]
    public void Load_WithIncludeFilter_LoadsOnlyMatchingTensors()
    {
        using var folder = new TempFolder();
        string path = folder.File("x.safetensors");
        using Tensor a = ones(2);
        using Tensor b = zeros(3);
        SafeTensorsWriter.Save(path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b });
        Dictionary<string, Tensor> loaded = SafeTensorsReader.Load(path, name => name == "b");
        using Tensor onlyB = Assert.Single(loaded).Value;
        Assert.Equal([3L], onlyB.shape);
    }

    [Theory]
    [InlineData(16)]
    [InlineData(12)]
    [InlineData(3)]
    public void TensorBytes_SmallChunkSize_CopiesSameBytesAsWholeSpan(long chunkBytes)
    {
        using Tensor source = randn(5, 7, dtype: ScalarType.Float32);
        using var stream = new MemoryStream();
        TensorBytes.WriteTo(stream, source, chunkBytes);
        Assert.Equal(source.bytes.ToArray(), stream.ToArray());

        stream.Position = 0;
        using Tensor target = empty([5, 7], ScalarType.Float32);
        TensorBytes.ReadFrom(stream, target, chunkBytes);
        Assert.Equal(source.bytes.ToArray(), target.bytes.ToArray());
    }

    internal static Tensor FromBytes(byte[] raw, ScalarType dtype, long[] shape)
    {
        Tensor t = empty(shape, dtype);
        raw.CopyTo(t.bytes);
        return t;
    }

    private static int ElementSize(ScalarType dtype)
    {
        using Tensor probe = empty([1], dtype);
        return (int)probe.ElementSize;
    }

    private static byte[] RandomBytes(ScalarType dtype, int count, int seed)
    {
        var bytes = new byte[count * ElementSize(dtype)];
        new Random(seed).NextBytes(bytes);
        if (dtype == ScalarType.Bool)
        {
            for (int i = 0; i < bytes.Length; i++)
                bytes[i] &= 1;
        }
        return bytes;
    }

    private static byte[] Bytes<T>(params T[] values) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
}
