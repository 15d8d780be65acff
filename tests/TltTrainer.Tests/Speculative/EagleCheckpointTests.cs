using System.Text.Json;
using TltTrainer.Models;
using TltTrainer.Models.SafeTensors;
using TltTrainer.Speculative;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Speculative;

public sealed class EagleCheckpointTests
{
    // GQA with heads·head_dim ≠ hidden, so a transposed or swapped projection cannot pass for the right one:
    // H = 32, 4 query heads and 2 KV heads of 12 (q 48, kv 24), MLP 40, vocabulary 40.
    private static readonly TransformerConfig Gqa = new TransformerConfig
    {
        VocabSize = 40, HiddenSize = 32, IntermediateSize = 40, NumLayers = 3, NumHeads = 4, NumKvHeadsRaw = 2, HeadDimRaw = 12,
        MaxPositions = 128, RopeTheta = 50000, RmsNormEps = 1e-5, TieWordEmbeddings = true, TorchDtype = "float32",
        BosTokenId = 1, EosTokenIds = new[] { 2 },
    }.Validate("Gqa");

    private static readonly TransformerConfig GqaWithQkvBias = Gqa with { ModelType = "qwen2" };

    // The documented layout (docs/eagle-export.md), written out by hand for Gqa.
    private static readonly (string Name, long[] Shape)[] VllmTensors =
    {
        ("fc.weight", new long[] { 32, 64 }),
        ("layers.0.mlp.down_proj.weight", new long[] { 32, 40 }),
        ("layers.0.mlp.gate_proj.weight", new long[] { 40, 32 }),
        ("layers.0.mlp.up_proj.weight", new long[] { 40, 32 }),
        ("layers.0.post_attention_layernorm.weight", new long[] { 32 }),
        ("layers.0.self_attn.k_proj.weight", new long[] { 24, 32 }),
        ("layers.0.self_attn.o_proj.weight", new long[] { 32, 48 }),
        ("layers.0.self_attn.q_proj.weight", new long[] { 48, 32 }),
        ("layers.0.self_attn.v_proj.weight", new long[] { 24, 32 }),
    };

    [Fact]
    public void ExportImport_Float32_GivesIdenticalWeightsAndOutputs()
    {
        using var dir = new TempDirectory();
        string folder = Path.Combine(dir.Path, "eagle");
        using var drafter = Trained(Gqa, seed: 3);
        EagleCheckpoint.Export(drafter, Gqa, folder);
        using var imported = EagleCheckpoint.Import(folder, Gqa);

        foreach (var (name, t) in drafter.state_dict())
            Assert.Equal(t.data<float>().ToArray(), imported.state_dict()[name].data<float>().ToArray());
        var (outA, logitsA) = Outputs(drafter, Gqa);
        var (outB, logitsB) = Outputs(imported, Gqa);
        Assert.Equal(outA, outB);
        Assert.Equal(logitsA, logitsB);
    }

    [Fact]
    public void ExportImport_BFloat16_WeightsAreTheBf16RoundingAndOutputsStayClose()
    {
        using var dir = new TempDirectory();
        string folder = Path.Combine(dir.Path, "eagle");
        using var drafter = Trained(Gqa, seed: 4);
        EagleCheckpoint.Export(drafter, Gqa, folder, new EagleExportOptions { DType = ScalarType.BFloat16 });
        Assert.All(SafeTensorsReader.ReadHeader(Path.Combine(folder, "model.safetensors")).Tensors.Values, i => Assert.Equal(ScalarType.BFloat16, i.DType));
        using var imported = EagleCheckpoint.Import(folder, Gqa);

        foreach (var (name, t) in drafter.state_dict())
        {
            using var rounded16 = t.to(ScalarType.BFloat16);
            using var rounded = rounded16.to(ScalarType.Float32);
            Assert.Equal(rounded.data<float>().ToArray(), imported.state_dict()[name].data<float>().ToArray());
        }
        var (outA, logitsA) = Outputs(drafter, Gqa);
        var (outB, logitsB) = Outputs(imported, Gqa);
        double scale = outA.Max(Math.Abs);
        Assert.All(outA.Zip(outB), p => Assert.True(Math.Abs(p.First - p.Second) <= 0.03 * scale, $"{p.First} vs {p.Second} (scale {scale})"));
        double logitScale = logitsA.Max(Math.Abs);
        Assert.All(logitsA.Zip(logitsB), p => Assert.True(Math.Abs(p.First - p.Second) <= 0.03 * logitScale, $"{p.First} vs {p.Second}"));
    }

    [Fact]
    public void Export_VllmLayout_WritesExactlyTheDocumentedTensors()
    {
        using var dir = new TempDirectory();
        string folder = Path.Combine(dir.Path, "eagle");
        using var drafter = new EagleDraftModel(Gqa, seed: 5);
        EagleCheckpoint.Export(drafter, Gqa, folder);
        AssertTensors(folder, VllmTensors, ScalarType.Float32);
        Assert.Equal(new[] { "config.json", "model.safetensors" }, Directory.GetFileSystemEntries(folder).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void Export_SglangLayout_AddsAZeroFcBias()
    {
        using var dir = new TempDirectory();
        string folder = Path.Combine(dir.Path, "eagle");
        using var drafter = new EagleDraftModel(Gqa, seed: 5);
        EagleCheckpoint.Export(drafter, Gqa, folder, new EagleExportOptions { Layout = EagleServingLayout.Sglang, DType = ScalarType.Float16 });
        AssertTensors(folder, VllmTensors.Append(("fc.bias", new long[] { 32 })).ToArray(), ScalarType.Float16);
        AssertAllZero(folder, "fc.bias");
        using var imported = EagleCheckpoint.Import(folder, Gqa);
        Assert.Equal("LlamaForCausalLMEagle", Config(folder).GetProperty("architectures")[0].GetString());
    }

    [Fact]
    public void Export_QkvBiasTarget_WritesItsBiasesAndAZeroOProjBiasAndRoundTrips()
    {
        using var dir = new TempDirectory();
        string folder = Path.Combine(dir.Path, "eagle");
        using var drafter = Trained(GqaWithQkvBias, seed: 6);
        EagleCheckpoint.Export(drafter, GqaWithQkvBias, folder);
        AssertTensors(folder, VllmTensors.Concat(new (string, long[])[]
        {
            ("layers.0.self_attn.q_proj.bias", new long[] { 48 }),
            ("layers.0.self_attn.k_proj.bias", new long[] { 24 }),
            ("layers.0.self_attn.v_proj.bias", new long[] { 24 }),
            ("layers.0.self_attn.o_proj.bias", new long[] { 32 }),
        }).ToArray(), ScalarType.Float32);
        AssertAllZero(folder, "layers.0.self_attn.o_proj.bias");
        var config = Config(folder);
        Assert.True(config.GetProperty("attention_bias").GetBoolean());
        Assert.True(config.GetProperty("qkv_bias").GetBoolean());
        Assert.False(config.GetProperty("bias").GetBoolean());
        Assert.Equal("llama", config.GetProperty("model_type").GetString());

        using var imported = EagleCheckpoint.Import(folder, GqaWithQkvBias);
        Assert.Equal(Outputs(drafter, GqaWithQkvBias).Hidden, Outputs(imported, GqaWithQkvBias).Hidden);
    }

    [Fact]
    public void Export_ConfigJson_DescribesTheOneLayerDrafterOfTheTarget()
    {
        using var dir = new TempDirectory();
        string folder = Path.Combine(dir.Path, "eagle");
        using var drafter = new EagleDraftModel(Gqa, seed: 7);
        EagleCheckpoint.Export(drafter, Gqa, folder, new EagleExportOptions { DType = ScalarType.BFloat16 });
        var c = Config(folder);
        Assert.Equal(["LlamaForCausalLM"], c.GetProperty("architectures").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("llama", c.GetProperty("model_type").GetString());
        Assert.Equal(1, c.GetProperty("num_hidden_layers").GetInt32());
        Assert.Equal(32, c.GetProperty("hidden_size").GetInt32());
        Assert.Equal(40, c.GetProperty("intermediate_size").GetInt32());
        Assert.Equal(4, c.GetProperty("num_attention_heads").GetInt32());
        Assert.Equal(2, c.GetProperty("num_key_value_heads").GetInt32());
        Assert.Equal(12, c.GetProperty("head_dim").GetInt32());
        Assert.Equal(40, c.GetProperty("vocab_size").GetInt32());
        Assert.Equal(128, c.GetProperty("max_position_embeddings").GetInt32());
        Assert.Equal(50000.0, c.GetProperty("rope_theta").GetDouble());
        Assert.Equal(1e-5, c.GetProperty("rms_norm_eps").GetDouble());
        Assert.Equal("silu", c.GetProperty("hidden_act").GetString());
        Assert.False(c.GetProperty("tie_word_embeddings").GetBoolean());
        Assert.False(c.GetProperty("bias").GetBoolean());
        Assert.False(c.GetProperty("attention_bias").GetBoolean());
        Assert.Equal("bfloat16", c.GetProperty("torch_dtype").GetString());
        Assert.Equal(1, c.GetProperty("bos_token_id").GetInt32());
        Assert.Equal(2, c.GetProperty("eos_token_id").GetInt32());
        var metadata = SafeTensorsReader.ReadMetadata(Path.Combine(folder, "model.safetensors"));
        Assert.Equal("pt", metadata["format"]);
        Assert.Equal("embedding,hidden", metadata["tlt_fc_input"]);
    }

    [Fact]
    public void Export_WithEmbedding_WritesItAsEmbedTokensAndImportIgnoresIt()
    {
        using var dir = new TempDirectory();
        string folder = Path.Combine(dir.Path, "eagle");
        using var target = new CausalLM(Gqa, seed: 8);
        using var drafter = new EagleDraftModel(Gqa, seed: 9);
        var pipeline = new EagleExportOptions { PipelineParallel = true };
        EagleCheckpoint.Export(drafter, Gqa, folder, pipeline, embedding: target.EmbeddingWeight);
        AssertTensors(folder, VllmTensors.Append(("embed_tokens.weight", new long[] { 40, 32 })).ToArray(), ScalarType.Float32);
        var stored = SafeTensorsReader.Load(Path.Combine(folder, "model.safetensors"), n => n == "embed_tokens.weight")["embed_tokens.weight"];
        using (stored) Assert.Equal(target.EmbeddingWeight.data<float>().ToArray(), stored.data<float>().ToArray());
        using var imported = EagleCheckpoint.Import(folder, Gqa);

        using var wrong = zeros(41, 32);
        Assert.Contains("[41, 32]", Assert.Throws<ArgumentException>(() => EagleCheckpoint.Export(drafter, Gqa, Path.Combine(dir.Path, "e2"), pipeline, embedding: wrong)).Message);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "e2")));
    }

    [Fact]
    public void Export_EmbeddingWithoutPipelineParallel_IsRefusedNamingTheRisk()
    {
        // At one pipeline stage a vLLM build that flags a checkpoint's embed_tokens as the drafter's own while skipping its
        // load would serve an unloaded embedding (docs/eagle-export.md), and no engine reads the copy anyway.
        using var dir = new TempDirectory();
        using var target = new CausalLM(Gqa, seed: 8);
        using var drafter = new EagleDraftModel(Gqa, seed: 9);
        var e = Assert.Throws<ArgumentException>(() => EagleCheckpoint.Export(drafter, Gqa, Path.Combine(dir.Path, "a"), embedding: target.EmbeddingWeight));
        Assert.Contains("PipelineParallel", e.Message);
        Assert.Contains("unloaded embedding", e.Message);
        var missing = Assert.Throws<ArgumentException>(() => EagleCheckpoint.Export(drafter, Gqa, Path.Combine(dir.Path, "b"), new EagleExportOptions { PipelineParallel = true }));
        Assert.Contains("needs the target's embedding", missing.Message);
        var sglang = Assert.Throws<ArgumentException>(() => new EagleExportOptions { PipelineParallel = true, Layout = EagleServingLayout.Sglang }.Validate());
        Assert.Contains("PipelineParallel = true is invalid with Layout = Sglang", sglang.Message);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void Export_BFloat16Embedding_IsTheTargetsBf16RoundingBitForBit()
    {
        // vLLM (versions that load the copy) shares the target's embedding when the copy is torch.equal to it in the served dtype.
        using var dir = new TempDirectory();
        string folder = Path.Combine(dir.Path, "eagle");
        using var target = new CausalLM(Gqa, seed: 8);
        using var drafter = new EagleDraftModel(Gqa, seed: 9);
        EagleCheckpoint.Export(drafter, Gqa, folder, new EagleExportOptions { PipelineParallel = true, DType = ScalarType.BFloat16 }, target.EmbeddingWeight);
        using var stored = SafeTensorsReader.Load(Path.Combine(folder, "model.safetensors"), n => n == "embed_tokens.weight")["embed_tokens.weight"];
        Assert.Equal(ScalarType.BFloat16, stored.dtype);
        using var scope = torch.NewDisposeScope();
        var expected = target.EmbeddingWeight.detach().to(ScalarType.BFloat16).to(ScalarType.Float32).data<float>().ToArray();
        Assert.Equal(expected, stored.to(ScalarType.Float32).data<float>().ToArray());   // bfloat16 → float32 is exact
    }

    [Fact]
    public void Export_DrafterOfAnotherTarget_NamesTheField()
    {
        using var dir = new TempDirectory();
        using var drafter = new EagleDraftModel(Gqa, seed: 1);
        var e = Assert.Throws<ArgumentException>(() => EagleCheckpoint.Export(drafter, Gqa with { IntermediateSize = 48 }, Path.Combine(dir.Path, "eagle")));
        Assert.Contains("intermediate_size = 40", e.Message);
        Assert.Contains("48", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void Options_InvalidDType_NamesTheField()
    {
        var e = Assert.Throws<ArgumentException>(() => new EagleExportOptions { DType = ScalarType.Int64 }.Validate());
        Assert.Contains("DType = Int64", e.Message);
    }

    [Fact]
    public void Export_IntoNonEmptyFolder_FailsWithoutTouchingIt()
    {
        using var dir = new TempDirectory();
        string folder = Directory.CreateDirectory(Path.Combine(dir.Path, "eagle")).FullName;
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "keep me");
        using var drafter = new EagleDraftModel(Gqa, seed: 1);

        Assert.Throws<IOException>(() => EagleCheckpoint.Export(drafter, Gqa, folder));
        var e = Assert.Throws<IOException>(() => EagleCheckpoint.Export(drafter, Gqa, folder, new EagleExportOptions { Overwrite = true }));
        Assert.Contains("notes.txt", e.Message);

        Assert.Equal(["notes.txt"], Directory.GetFileSystemEntries(folder).Select(Path.GetFileName));
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(folder, "notes.txt")));
        Assert.Equal([folder], Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void Export_OverAPreviousExport_ReplacesItOnlyWithOverwrite()
    {
        using var dir = new TempDirectory();
        string folder = Path.Combine(dir.Path, "eagle");
        using var first = new EagleDraftModel(Gqa, seed: 1);
        using var second = new EagleDraftModel(Gqa, seed: 2);
        EagleCheckpoint.Export(first, Gqa, folder);
        byte[] before = File.ReadAllBytes(Path.Combine(folder, "model.safetensors"));

        Assert.Throws<IOException>(() => EagleCheckpoint.Export(second, Gqa, folder));
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(folder, "model.safetensors")));

        EagleCheckpoint.Export(second, Gqa, folder, new EagleExportOptions { Overwrite = true });
        using var imported = EagleCheckpoint.Import(folder, Gqa);
        Assert.Equal(second.state_dict()["fc.weight"].data<float>().ToArray(), imported.state_dict()["fc.weight"].data<float>().ToArray());
        Assert.Equal([folder], Directory.GetFileSystemEntries(dir.Path));
    }

    [Theory]
    [InlineData("config.json")]
    [InlineData("model.safetensors")]
    public void Import_MissingFile_NamesIt(string file)
    {
        using var dir = new TempDirectory();
        string folder = Exported(dir, Gqa);
        File.Delete(Path.Combine(folder, file));
        var e = Assert.Throws<FileNotFoundException>(() => EagleCheckpoint.Import(folder, Gqa));
        Assert.Contains(file, e.Message);
        Assert.Throws<DirectoryNotFoundException>(() => EagleCheckpoint.Import(Path.Combine(dir.Path, "absent"), Gqa));
    }

    [Fact]
    public void Import_ForAnotherTarget_NamesTheConfigFieldAndBothValues()
    {
        using var dir = new TempDirectory();
        string folder = Exported(dir, Gqa);
        var e = Assert.Throws<InvalidDataException>(() => EagleCheckpoint.Import(folder, Gqa with { NumKvHeadsRaw = 4 }));
        Assert.Contains("config.json", e.Message);
        Assert.Contains("num_key_value_heads = 2", e.Message);
        Assert.Contains("target's 4", e.Message);

        File.WriteAllText(Path.Combine(folder, "config.json"), File.ReadAllText(Path.Combine(folder, "config.json")).Replace("\"num_hidden_layers\": 1", "\"num_hidden_layers\": 2"));
        Assert.Contains("num_hidden_layers = 2", Assert.Throws<InvalidDataException>(() => EagleCheckpoint.Import(folder, Gqa)).Message);
    }

    [Fact]
    public void Import_TensorOfWrongShape_NamesTensorAndBothShapes()
    {
        using var dir = new TempDirectory();
        string folder = Exported(dir, Gqa);
        RewriteWeights(folder, w => { w["layers.0.mlp.up_proj.weight"].Dispose(); w["layers.0.mlp.up_proj.weight"] = zeros(40, 31); });
        var e = Assert.Throws<InvalidDataException>(() => EagleCheckpoint.Import(folder, Gqa));
        Assert.Contains("'layers.0.mlp.up_proj.weight'", e.Message);
        Assert.Contains("[40, 31]", e.Message);
        Assert.Contains("[40, 32]", e.Message);
    }

    [Fact]
    public void Import_TensorOfWrongDType_NamesTensorAndDType()
    {
        using var dir = new TempDirectory();
        string folder = Exported(dir, Gqa);
        RewriteWeights(folder, w => { w["fc.weight"].Dispose(); w["fc.weight"] = zeros(new long[] { 32, 64 }, ScalarType.Int64); });
        var e = Assert.Throws<InvalidDataException>(() => EagleCheckpoint.Import(folder, Gqa));
        Assert.Contains("'fc.weight'", e.Message);
        Assert.Contains("Int64", e.Message);
    }

    [Fact]
    public void Import_MissingOrUnexpectedTensor_NamesIt()
    {
        using var dir = new TempDirectory();
        string folder = Exported(dir, Gqa);
        RewriteWeights(folder, w => { w["layers.0.self_attn.v_proj.weight"].Dispose(); w.Remove("layers.0.self_attn.v_proj.weight"); });
        var missing = Assert.Throws<InvalidDataException>(() => EagleCheckpoint.Import(folder, Gqa));
        Assert.Contains("missing", missing.Message);
        Assert.Contains("'layers.0.self_attn.v_proj.weight' [24, 32]", missing.Message);

        string folder2 = Exported(dir, Gqa, "eagle2");
        RewriteWeights(folder2, w => w["layers.0.input_layernorm.weight"] = ones(32));
        var unexpected = Assert.Throws<InvalidDataException>(() => EagleCheckpoint.Import(folder2, Gqa));
        Assert.Contains("unexpected tensor 'layers.0.input_layernorm.weight'", unexpected.Message);
    }

    [Fact]
    public void Import_NonZeroFcBias_IsRefusedAsInexact()
    {
        using var dir = new TempDirectory();
        string folder = Exported(dir, Gqa);
        RewriteWeights(folder, w => w["fc.bias"] = ones(32).mul_(0.5));
        var e = Assert.Throws<InvalidDataException>(() => EagleCheckpoint.Import(folder, Gqa));
        Assert.Contains("'fc.bias' is not zero", e.Message);
    }

    // A drafter with weights far from its initialisation (including the norm), so that any misplaced tensor shows.
    private static EagleDraftModel Trained(TransformerConfig config, int seed)
    {
        var model = new EagleDraftModel(config, seed);
        using var noGrad = no_grad();
        using var g = new Generator((ulong)seed + 100);
        foreach (var (name, p) in model.named_parameters())
        {
            p.normal_(0, 0.2, g);
            if (name.Contains("norm")) p.add_(1.0);
        }
        return model;
    }

    // Drafter outputs on a fixed input, and logits through a fixed head matrix (as the target's lm_head would give).
    private static (float[] Hidden, float[] Logits) Outputs(EagleDraftModel model, TransformerConfig config)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var g = new Generator(77);
        var embeds = randn(new long[] { 2, 5, config.HiddenSize }, generator: g);
        var hidden = randn(new long[] { 2, 5, config.HiddenSize }, generator: g);
        var head = randn(new long[] { config.VocabSize, config.HiddenSize }, generator: g);
        var output = model.Forward(embeds, hidden);
        var logits = nn.functional.linear(output, head);
        return (output.data<float>().ToArray(), logits.data<float>().ToArray());
    }

    private static string Exported(TempDirectory dir, TransformerConfig config, string name = "eagle")
    {
        string folder = Path.Combine(dir.Path, name);
        using var drafter = new EagleDraftModel(config, seed: 11);
        EagleCheckpoint.Export(drafter, config, folder);
        return folder;
    }

    private static void RewriteWeights(string folder, Action<Dictionary<string, Tensor>> edit)
    {
        string path = Path.Combine(folder, "model.safetensors");
        var weights = SafeTensorsReader.Load(path);
        try
        {
            edit(weights);
            SafeTensorsWriter.Save(path, weights);
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }
    }

    private static void AssertTensors(string folder, (string Name, long[] Shape)[] expected, ScalarType dtype)
    {
        var header = SafeTensorsReader.ReadHeader(Path.Combine(folder, "model.safetensors"));
        Assert.Equal(expected.Select(e => e.Name).Order(StringComparer.Ordinal), header.Tensors.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, shape) in expected)
        {
            Assert.Equal(shape, header.Tensors[name].Shape);
            Assert.Equal(dtype, header.Tensors[name].DType);
        }
    }

    private static void AssertAllZero(string folder, string name)
    {
        var loaded = SafeTensorsReader.Load(Path.Combine(folder, "model.safetensors"), n => n == name);
        using var t = loaded[name];
        using var f = t.to(ScalarType.Float32);
        Assert.All(f.data<float>().ToArray(), v => Assert.Equal(0f, v));
    }

    private static JsonElement Config(string folder) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json"))).RootElement;
}
