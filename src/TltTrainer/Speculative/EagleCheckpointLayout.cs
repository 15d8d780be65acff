// The on-disk layout of an EAGLE-1/2 (Llama) drafter checkpoint, in one place for export and import.
// Names carry no "model." prefix (vLLM and SGLang add it themselves); layer 0 has no input_layernorm;
// the embedding and lm_head are the target's and are not written (except an optional embedding copy).
// Zero biases make our bias-free fc and o_proj exact under loaders that always create those biases.
// Sources and reasoning: docs/eagle-export.md.
using System.Text.Json.Nodes;
using TltTrainer.Models;
using static TorchSharp.torch;

namespace TltTrainer.Speculative;

/// <summary>Where an exported tensor's values come from.</summary>
internal enum EagleTensorSource
{
    /// <summary>The drafter's parameter of the same name.</summary>
    Drafter,

    /// <summary>All zeros: a bias some loader creates but our module does not have.</summary>
    ZeroBias,

    /// <summary>The target's token embedding (optional copy).</summary>
    Embedding,
}

/// <summary>One tensor of the layout: its name, shape and source.</summary>
internal sealed record EagleTensorSpec(string Name, long[] Shape, EagleTensorSource Source);

/// <summary>Tensor names, shapes and <c>config.json</c> of an exported EAGLE drafter.</summary>
internal static class EagleCheckpointLayout
{
    internal const string ConfigFile = "config.json";
    internal const string WeightsFile = "model.safetensors";
    internal const string EmbeddingName = "embed_tokens.weight";
    internal const string FcBiasName = "fc.bias";
    internal const string OProjBiasName = "layers.0.self_attn.o_proj.bias";

    /// <summary>The files an export writes (and the only entries an overwrite may replace).</summary>
    internal static readonly IReadOnlySet<string> Files = new HashSet<string>(StringComparer.Ordinal) { ConfigFile, WeightsFile };

    /// <summary>The tensors an export writes for <paramref name="target"/>, in name order.</summary>
    internal static IReadOnlyList<EagleTensorSpec> Tensors(TransformerConfig target, EagleServingLayout layout, bool withEmbedding)
    {
        long h = target.HiddenSize, q = (long)target.NumHeads * target.HeadDim, kv = (long)target.NumKvHeads * target.HeadDim, i = target.IntermediateSize;
        var specs = new List<EagleTensorSpec>
        {
            new("fc.weight", new[] { h, 2 * h }, EagleTensorSource.Drafter),
            new("layers.0.self_attn.q_proj.weight", new[] { q, h }, EagleTensorSource.Drafter),
            new("layers.0.self_attn.k_proj.weight", new[] { kv, h }, EagleTensorSource.Drafter),
            new("layers.0.self_attn.v_proj.weight", new[] { kv, h }, EagleTensorSource.Drafter),
            new("layers.0.self_attn.o_proj.weight", new[] { h, q }, EagleTensorSource.Drafter),
            new("layers.0.mlp.gate_proj.weight", new[] { i, h }, EagleTensorSource.Drafter),
            new("layers.0.mlp.up_proj.weight", new[] { i, h }, EagleTensorSource.Drafter),
            new("layers.0.mlp.down_proj.weight", new[] { h, i }, EagleTensorSource.Drafter),
            new("layers.0.post_attention_layernorm.weight", new[] { h }, EagleTensorSource.Drafter),
        };
        if (target.HasQkvBias)
        {
            specs.Add(new("layers.0.self_attn.q_proj.bias", new[] { q }, EagleTensorSource.Drafter));
            specs.Add(new("layers.0.self_attn.k_proj.bias", new[] { kv }, EagleTensorSource.Drafter));
            specs.Add(new("layers.0.self_attn.v_proj.bias", new[] { kv }, EagleTensorSource.Drafter));
            // Llama's attention_bias also gives o_proj a bias (vLLM, SGLang, HF); zeros keep ours exact.
            specs.Add(new(OProjBiasName, new[] { h }, EagleTensorSource.ZeroBias));
        }
        if (layout == EagleServingLayout.Sglang) specs.Add(new(FcBiasName, new[] { h }, EagleTensorSource.ZeroBias));
        if (withEmbedding) specs.Add(new(EmbeddingName, new[] { (long)target.VocabSize, h }, EagleTensorSource.Embedding));
        return specs.OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>Every tensor an import accepts: the drafter's (required) and the optional zero biases and embedding.</summary>
    internal static IReadOnlyList<EagleTensorSpec> Accepted(TransformerConfig target) =>
        Tensors(target, EagleServingLayout.Sglang, withEmbedding: true);

    /// <summary>The <c>config.json</c> of the drafter of <paramref name="target"/>: the target's shape with one layer.</summary>
    internal static string ConfigJson(TransformerConfig target, EagleServingLayout layout, ScalarType dtype)
    {
        bool qkvBias = target.HasQkvBias;
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray(layout == EagleServingLayout.Sglang ? "LlamaForCausalLMEagle" : "LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["hidden_size"] = target.HiddenSize,
            ["intermediate_size"] = target.IntermediateSize,
            ["num_hidden_layers"] = 1,
            ["num_attention_heads"] = target.NumHeads,
            ["num_key_value_heads"] = target.NumKvHeads,
            ["head_dim"] = target.HeadDim,
            ["vocab_size"] = target.VocabSize,
            ["max_position_embeddings"] = target.MaxPositions,
            ["rope_theta"] = target.RopeTheta,
            ["rms_norm_eps"] = target.RmsNormEps,
            ["hidden_act"] = target.HiddenAct,
            // The head is always the target's (shared at load time), so the drafter declares none of its own.
            ["tie_word_embeddings"] = false,
            // "bias" is the fc bias for the EAGLE reference code, but vLLM and SGLang read it as an attention bias: keep it false.
            ["bias"] = false,
            ["attention_bias"] = qkvBias,
            ["qkv_bias"] = qkvBias,
            ["torch_dtype"] = DTypeName(dtype),
        };
        if (target.BosTokenId is int bos) json["bos_token_id"] = bos;
        if (target.EosTokenIds is { Count: > 0 } eos)
            json["eos_token_id"] = eos.Count == 1 ? JsonValue.Create(eos[0]) : new JsonArray(eos.Select(id => (JsonNode)id).ToArray());
        return json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>HF <c>torch_dtype</c> name of a weight dtype.</summary>
    internal static string DTypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "EAGLE checkpoints store Float32, BFloat16 or Float16."),
    };
}
