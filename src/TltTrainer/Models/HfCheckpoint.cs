// Loading and saving whole model folders in the HuggingFace layout: config.json plus model.safetensors
// (or shards with model.safetensors.index.json), HF tensor names. Loading checks every key and shape
// against the model built from the config and names the folder, tensor, expected and actual values in
// its errors. A tied embedding may be stored under either name (some exporters keep only lm_head.weight).
// Saving writes every file through a temporary file and a rename.
using System.Text.Json.Nodes;
using TltTrainer.IO;
using TltTrainer.Models.SafeTensors;
using TorchSharp;
using static TorchSharp.torch;

namespace TltTrainer.Models;

/// <summary>HuggingFace checkpoint folders for <see cref="CausalLM"/>.</summary>
public static class HfCheckpoint
{
    private const string EmbedKey = "model.embed_tokens.weight";
    private const string HeadKey = "lm_head.weight";

    /// <summary>Loads a model from a folder with <c>config.json</c> and safetensors weights.</summary>
    /// <param name="directory">The checkpoint folder.</param>
    /// <param name="dtype">Weight dtype in memory; default float32 (bf16 is faster on CPU for large models; never use float16 on CPU).</param>
    /// <param name="device">Device; default CPU.</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">config.json or the weights are missing.</exception>
    /// <exception cref="InvalidDataException">Config invalid, or keys/shapes of the weights do not match it.</exception>
    public static CausalLM Load(string directory, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"Checkpoint folder not found: {directory}");
        var config = TransformerConfig.Load(Path.Combine(directory, "config.json"));
        var model = new CausalLM(config);
        try
        {
            var weights = SafeTensorsCheckpoint.LoadWeights(directory);
            try { LoadWeights(model, weights, directory); }
            finally { foreach (var t in weights.Values) t.Dispose(); }
            model.to(dtype);
            if (device is not null) model.to(device);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Copies HF-named <paramref name="weights"/> into <paramref name="model"/>, converting dtypes.</summary>
    /// <param name="model">The model to fill.</param>
    /// <param name="weights">Tensors by HF name.</param>
    /// <param name="source">Where the weights came from, for error messages.</param>
    /// <exception cref="InvalidDataException">A key is missing or unexpected, or a shape differs.</exception>
    public static void LoadWeights(CausalLM model, IReadOnlyDictionary<string, Tensor> weights, string source)
    {
        var expected = model.state_dict();
        var provided = new Dictionary<string, Tensor>(weights);
        if (model.Config.TieWordEmbeddings)
        {
            if (!provided.ContainsKey(EmbedKey) && provided.TryGetValue(HeadKey, out var head)) provided[EmbedKey] = head;
            provided.Remove(HeadKey);
        }
        // Rotary tables are derived from the config, never loaded.
        foreach (var key in provided.Keys.Where(k => k.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)).ToList()) provided.Remove(key);

        var missing = expected.Keys.Where(k => !provided.ContainsKey(k)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"{source}: {missing.Count} tensor(s) the config needs are missing from the weights, e.g. '{string.Join("', '", missing.Take(5))}'.");
        var unexpected = provided.Keys.Where(k => !expected.ContainsKey(k)).ToList();
        if (unexpected.Count > 0)
            throw new InvalidDataException($"{source}: {unexpected.Count} tensor(s) in the weights do not belong to a {model.Config.ModelType} model of this config, e.g. '{string.Join("', '", unexpected.Take(5))}'.");
        foreach (var (name, target) in expected)
        {
            var value = provided[name];
            if (!value.shape.SequenceEqual(target.shape))
                throw new InvalidDataException($"{source}: tensor '{name}' has shape [{string.Join(", ", value.shape)}], expected [{string.Join(", ", target.shape)}] from config.json.");
            if (!value.is_floating_point())
                throw new InvalidDataException($"{source}: tensor '{name}' has dtype {value.dtype}, expected a floating-point dtype.");
        }
        using var noGrad = no_grad();
        foreach (var (name, target) in expected)
        {
            using var converted = provided[name].to(target.dtype, target.device);
            target.copy_(converted);
        }
    }

    /// <summary>Saves <paramref name="model"/> as an HF folder: <c>config.json</c> and <c>model.safetensors</c> (or shards).</summary>
    /// <param name="model">The model.</param>
    /// <param name="directory">Target folder (created if needed).</param>
    /// <param name="dtype">Stored dtype; default the model's.</param>
    /// <param name="maxShardBytes">Shard the weights above this many bytes; 0 = one file.</param>
    public static void Save(CausalLM model, string directory, ScalarType? dtype = null, long maxShardBytes = 0)
    {
        Directory.CreateDirectory(directory);
        var stored = dtype ?? model.DType;
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, t) in model.state_dict())
        {
            if (model.Config.TieWordEmbeddings && name == HeadKey) continue;
            tensors[name] = t.detach().to(stored, CPU);
        }
        var metadata = new Dictionary<string, string> { ["format"] = "pt" };
        if (maxShardBytes > 0) SafeTensorsCheckpoint.SaveSharded(directory, tensors, maxShardBytes, metadata);
        else SafeTensorsWriter.Save(Path.Combine(directory, SafeTensorsCheckpoint.SingleFileName), tensors, metadata);
        var config = JsonNode.Parse((model.Config with { TorchDtype = DTypeName(stored) }).ToJson())!;
        AtomicFile.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>HF's name of a dtype (<c>float32</c>, <c>bfloat16</c>, <c>float16</c>).</summary>
    public static string DTypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        ScalarType.Float64 => "float64",
        _ => throw new ArgumentException($"dtype {dtype} is not a model weight dtype.", nameof(dtype)),
    };
}
