using TltTrainer.Models;
using TltTrainer.Models.SafeTensors;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Models;

public sealed class HfCheckpointTests
{
    [Theory]
    [InlineData(false, 0L)]
    [InlineData(true, 0L)]
    [InlineData(false, 20_000L)]
    public void SaveLoad_ReproducesLogitsExactly(bool untiedWithBias, long shardBytes)
    {
        var config = untiedWithBias ? TransformerPresets.Tiny with { ModelType = "qwen2", TieWordEmbeddings = false } : TransformerPresets.Tiny;
        using var dir = new TempDirectory();
        using var model = TestModels.Peaked(config, seed: 61);
        HfCheckpoint.Save(model, dir.Path, maxShardBytes: shardBytes);
        using var loaded = HfCheckpoint.Load(dir.Path);
        using var noGrad = no_grad();
        using var tokens = CausalLMCacheTests.RandomTokens(2, 12, config.VocabSize, 3);
        using var a = model.Forward(tokens);
        using var b = loaded.Forward(tokens);
        Assert.Equal(a.Logits!.data<float>().ToArray(), b.Logits!.data<float>().ToArray());
        Assert.Equal("pt", SafeTensorsReader.ReadMetadata(Directory.GetFiles(dir.Path, "*.safetensors")[0])["format"]);
    }

    [Fact]
    public void Load_ShapeMismatch_NamesTensorExpectedAndActual()
    {
        using var dir = new TempDirectory();
        using (var model = new CausalLM(TransformerPresets.Tiny)) HfCheckpoint.Save(model, dir.Path);
        var wider = TransformerPresets.Tiny with { IntermediateSize = 96 };
        File.WriteAllText(Path.Combine(dir.Path, "config.json"), wider.ToJson());
        var e = Assert.Throws<InvalidDataException>(() => HfCheckpoint.Load(dir.Path));
        Assert.Contains(dir.Path, e.Message);
        Assert.Contains("mlp.", e.Message);
        Assert.Contains("[64, 32]", e.Message);
        Assert.Contains("[96, 32]", e.Message);
    }

    [Fact]
    public void Load_MissingTensor_NamesIt()
    {
        using var dir = new TempDirectory();
        using (var model = new CausalLM(TransformerPresets.Tiny)) HfCheckpoint.Save(model, dir.Path);
        var file = Path.Combine(dir.Path, "model.safetensors");
        var weights = SafeTensorsReader.Load(file);
        weights.Remove("model.norm.weight", out var removed);
        removed!.Dispose();
        SafeTensorsWriter.Save(file, weights);
        foreach (var t in weights.Values) t.Dispose();
        var e = Assert.Throws<InvalidDataException>(() => HfCheckpoint.Load(dir.Path));
        Assert.Contains("model.norm.weight", e.Message);
    }

    [Fact]
    public void Load_MissingFolderOrConfig_NamesPath()
    {
        Assert.Throws<DirectoryNotFoundException>(() => HfCheckpoint.Load("/nonexistent/tlt-model"));
        using var dir = new TempDirectory();
        var e = Assert.Throws<FileNotFoundException>(() => HfCheckpoint.Load(dir.Path));
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void Load_InvalidConfigField_NamesFieldAndValue()
    {
        using var dir = new TempDirectory();
        dir.Write("config.json", TransformerPresets.Tiny.ToJson().Replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"));
        var e = Assert.Throws<InvalidDataException>(() => HfCheckpoint.Load(dir.Path));
        Assert.Contains("num_key_value_heads = 3", e.Message);
    }
}
