using System.Text.Json;
using TltTrainer.Models.SafeTensors;

namespace TltTrainer.Tests.Models.SafeTensors;

public sealed class SafeTensorsCheckpointTests
{
    [Fact]
    public void SaveSharded_ThenLoadWeights_RoundTripsAcrossShardsWithIndex()
    {
        using var folder = new TempFolder();
        using Tensor a = arange(10, dtype: ScalarType.Float32);  // 40 bytes
        using Tensor b = arange(4, dtype: ScalarType.Int64);     // 32 bytes
        using Tensor c = ones(30, dtype: ScalarType.BFloat16);   // 60 bytes
        using Tensor d = ones(3, dtype: ScalarType.Bool);        // 3 bytes
        using Tensor e = arange(100, dtype: ScalarType.Float32); // 400 bytes: over budget, gets its own shard
        var source = new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b, ["c"] = c, ["d"] = d, ["e"] = e };

        SafeTensorsIndex index = SafeTensorsCheckpoint.SaveSharded(folder.Path, source, maxShardBytes: 100, new Dictionary<string, string> { ["k"] = "v" });

        // Greedy in name order: [a, b] = 72, [c, d] = 63, [e] = 400.
        const string s1 = "model-00001-of-00003.safetensors", s2 = "model-00002-of-00003.safetensors", s3 = "model-00003-of-00003.safetensors";
        Assert.Equal(new Dictionary<string, string> { ["a"] = s1, ["b"] = s1, ["c"] = s2, ["d"] = s2, ["e"] = s3 }, index.WeightMap);
        Assert.Equal(535, index.TotalSize);
        Assert.Equal([s1, s2, s3, SafeTensorsCheckpoint.IndexFileName], Directory.GetFiles(folder.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal("v", SafeTensorsReader.ReadMetadata(folder.File(s2))["k"]);
        Assert.Equal("pt", SafeTensorsReader.ReadMetadata(folder.File(s2))["format"]);

        using (JsonDocument json = JsonDocument.Parse(File.ReadAllBytes(folder.File(SafeTensorsCheckpoint.IndexFileName))))
        {
            Assert.Equal(535, json.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
            Assert.Equal(s3, json.RootElement.GetProperty("weight_map").GetProperty("e").GetString());
        }
        SafeTensorsIndex reread = SafeTensorsIndex.Read(folder.File(SafeTensorsCheckpoint.IndexFileName));
        Assert.Equal(index.WeightMap, reread.WeightMap);
        Assert.Equal(535, reread.TotalSize);

        Dictionary<string, Tensor> loaded = SafeTensorsCheckpoint.LoadWeights(folder.Path);
        try
        {
            Assert.Equal(source.Keys.Order(), loaded.Keys.Order());
            foreach ((string name, Tensor t) in source)
                Assert.Equal(t.bytes.ToArray(), loaded[name].bytes.ToArray());
        }
        finally
        {
            foreach (Tensor t in loaded.Values)
                t.Dispose();
        }
    }

    [Fact]
    public void LoadWeights_SingleFilePresent_PrefersItOverIndex()
    {
        using var folder = new TempFolder();
        using Tensor sharded = zeros(2);
        using Tensor single = ones(3);
        SafeTensorsCheckpoint.SaveSharded(folder.Path, new Dictionary<string, Tensor> { ["w"] = sharded }, maxShardBytes: 1 << 20);
        SafeTensorsWriter.Save(folder.File(SafeTensorsCheckpoint.SingleFileName), new Dictionary<string, Tensor> { ["w"] = single });

        Dictionary<string, Tensor> loaded = SafeTensorsCheckpoint.LoadWeights(folder.Path);
        using Tensor w = loaded["w"];
        Assert.Equal([3L], w.shape);
    }

    [Fact]
    public void LoadWeights_EmptyFolder_ThrowsFileNotFoundNamingBothFiles()
    {
        using var folder = new TempFolder();
        var e = Assert.Throws<FileNotFoundException>(() => SafeTensorsCheckpoint.LoadWeights(folder.Path));
        Assert.Contains(SafeTensorsCheckpoint.SingleFileName, e.Message);
        Assert.Contains(SafeTensorsCheckpoint.IndexFileName, e.Message);
    }

    [Fact]
    public void LoadSharded_MissingShardFile_ThrowsFileNotFoundNamingShardAndIndex()
    {
        using var folder = new TempFolder();
        using Tensor a = ones(4);
        using Tensor b = ones(4);
        SafeTensorsCheckpoint.SaveSharded(folder.Path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b }, maxShardBytes: 16);
        File.Delete(folder.File("model-00002-of-00002.safetensors"));

        var e = Assert.Throws<FileNotFoundException>(() => SafeTensorsCheckpoint.LoadSharded(folder.Path));
        Assert.Equal(folder.File("model-00002-of-00002.safetensors"), e.FileName);
        Assert.Contains(SafeTensorsCheckpoint.IndexFileName, e.Message);
        Assert.Contains("'b'", e.Message);
    }

    [Fact]
    public void LoadSharded_TensorListedButAbsentFromShard_ThrowsNamingTensorShardAndIndex()
    {
        using var folder = new TempFolder();
        using Tensor a = ones(4);
        SafeTensorsWriter.Save(folder.File("shard.safetensors"), new Dictionary<string, Tensor> { ["a"] = a });
        File.WriteAllText(folder.File(SafeTensorsCheckpoint.IndexFileName),
            """{"metadata":{"total_size":32},"weight_map":{"a":"shard.safetensors","ghost":"shard.safetensors"}}""");

        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsCheckpoint.LoadSharded(folder.Path));
        Assert.Equal("ghost", e.TensorName);
        Assert.Equal(folder.File("shard.safetensors"), e.FilePath);
        Assert.Contains(folder.File(SafeTensorsCheckpoint.IndexFileName), e.Message);
    }

    [Theory]
    [InlineData("""{"weight_map":{"a":"../outside.safetensors"}}""", "not a plain file name")]
    [InlineData("""{"metadata":{}}""", "no 'weight_map'")]
    [InlineData("""{"weight_map":{"a":3}}""", "must be a file name string")]
    [InlineData("""{"weight_map":""", "not valid JSON")]
    public void ReadIndex_MalformedIndex_ThrowsSaying(string json, string expected)
    {
        using var folder = new TempFolder();
        string path = folder.File(SafeTensorsCheckpoint.IndexFileName);
        File.WriteAllText(path, json);
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsIndex.Read(path));
        Assert.StartsWith(path, e.Message);
        Assert.Contains(expected, e.Message);
    }
}
