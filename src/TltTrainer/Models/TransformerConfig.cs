// The target-model family's configuration, mirroring HuggingFace config.json field names so that a
// Llama or Qwen2 checkpoint's config reads without translation. Validation lives in one place and
// every error names the field and the offending value.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace TltTrainer.Models;

/// <summary>
/// Shape and hyper-parameters of a Llama/Qwen2-family decoder-only language model
/// (RMSNorm, rotate-half RoPE, grouped-query attention, SwiGLU MLP, optional QKV bias, tied or untied embeddings).
/// Property names follow HuggingFace <c>config.json</c>.
/// </summary>
public sealed record TransformerConfig
{
    /// <summary>HF <c>model_type</c>, e.g. <c>llama</c> or <c>qwen2</c>. Default <c>llama</c>.</summary>
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "llama";

    /// <summary>Number of token ids.</summary>
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }

    /// <summary>Model width H.</summary>
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; }

    /// <summary>Width of the SwiGLU MLP.</summary>
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; }

    /// <summary>Number of decoder layers.</summary>
    [JsonPropertyName("num_hidden_layers")] public int NumLayers { get; init; }

    /// <summary>Number of query heads.</summary>
    [JsonPropertyName("num_attention_heads")] public int NumHeads { get; init; }

    /// <summary>Number of key/value heads (grouped-query attention). Defaults to <see cref="NumHeads"/> when absent.</summary>
    [JsonPropertyName("num_key_value_heads")] public int? NumKvHeadsRaw { get; init; }

    /// <summary>Per-head width; defaults to <c>hidden_size / num_attention_heads</c> when absent.</summary>
    [JsonPropertyName("head_dim")] public int? HeadDimRaw { get; init; }

    /// <summary>Longest sequence (prompt + response) the model is used with; sizes the RoPE table.</summary>
    [JsonPropertyName("max_position_embeddings")] public int MaxPositions { get; init; } = 2048;

    /// <summary>RoPE base frequency θ. Default 10000.</summary>
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 10000.0;

    /// <summary>RMSNorm epsilon. Default 1e-6.</summary>
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-6;

    /// <summary>Whether <c>lm_head</c> shares the token-embedding matrix.</summary>
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; }

    /// <summary>Bias on q/k/v projections. Absent in Qwen2 configs, which always have it; see <see cref="HasQkvBias"/>.</summary>
    [JsonPropertyName("attention_bias")] public bool? AttentionBiasRaw { get; init; }

    /// <summary>Activation of the MLP gate; only <c>silu</c> is supported.</summary>
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "silu";

    /// <summary>Beginning-of-sequence token id, if the model has one.</summary>
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; init; }

    /// <summary>End-of-sequence token id(s); HF allows a number or a list.</summary>
    [JsonPropertyName("eos_token_id"), JsonConverter(typeof(IntOrIntListConverter))]
    public IReadOnlyList<int>? EosTokenIds { get; init; }

    /// <summary>Weight dtype name as in HF (<c>float32</c>, <c>bfloat16</c>, <c>float16</c>).</summary>
    [JsonPropertyName("torch_dtype")] public string? TorchDtype { get; init; }

    /// <summary>RoPE scaling block; only <c>null</c> (no scaling) is supported, anything else is rejected by <see cref="Validate"/>.</summary>
    [JsonPropertyName("rope_scaling")] public JsonElement? RopeScaling { get; init; }

    /// <summary>Key/value heads after defaulting.</summary>
    [JsonIgnore] public int NumKvHeads => NumKvHeadsRaw ?? NumHeads;

    /// <summary>Per-head width after defaulting.</summary>
    [JsonIgnore] public int HeadDim => HeadDimRaw ?? (NumHeads == 0 ? 0 : HiddenSize / NumHeads);

    /// <summary>Whether q/k/v projections carry a bias (explicit <c>attention_bias</c>, else true for <c>qwen2</c>).</summary>
    [JsonIgnore] public bool HasQkvBias => AttentionBiasRaw ?? ModelType == "qwen2";

    /// <summary>Checks every field; throws <see cref="InvalidDataException"/> naming the field and its value.</summary>
    /// <param name="source">Where the config came from, for the message (a file path or preset name).</param>
    public TransformerConfig Validate(string source = "config")
    {
        void Require(bool ok, string field, object? value, string rule)
        {
            if (!ok) throw new InvalidDataException($"{source}: {field} = {value ?? "null"} is invalid: {rule}.");
        }
        Require(ModelType is "llama" or "qwen2" or "mistral", "model_type", ModelType, "supported families are llama, qwen2, mistral");
        Require(VocabSize > 0, "vocab_size", VocabSize, "must be positive");
        Require(HiddenSize > 0, "hidden_size", HiddenSize, "must be positive");
        Require(IntermediateSize > 0, "intermediate_size", IntermediateSize, "must be positive");
        Require(NumLayers > 0, "num_hidden_layers", NumLayers, "must be positive");
        Require(NumHeads > 0, "num_attention_heads", NumHeads, "must be positive");
        Require(NumKvHeads > 0 && NumHeads % NumKvHeads == 0, "num_key_value_heads", NumKvHeads, $"must divide num_attention_heads ({NumHeads})");
        Require(HeadDim > 0 && HeadDim % 2 == 0, "head_dim", HeadDim, "must be positive and even (RoPE rotates pairs)");
        Require(HeadDimRaw is not null || HiddenSize % NumHeads == 0, "hidden_size", HiddenSize, $"must be divisible by num_attention_heads ({NumHeads}) when head_dim is absent");
        Require(MaxPositions > 0, "max_position_embeddings", MaxPositions, "must be positive");
        Require(RopeTheta > 0, "rope_theta", RopeTheta, "must be positive");
        Require(RmsNormEps > 0, "rms_norm_eps", RmsNormEps, "must be positive");
        Require(HiddenAct == "silu", "hidden_act", HiddenAct, "only silu (SwiGLU) is supported");
        Require(RopeScaling is null || RopeScaling.Value.ValueKind == JsonValueKind.Null, "rope_scaling", RopeScaling?.GetRawText(), "RoPE scaling is not supported");
        Require(EosTokenIds is null || EosTokenIds.All(id => id >= 0 && id < VocabSize), "eos_token_id", EosTokenIds is null ? null : string.Join(",", EosTokenIds), $"ids must lie in [0, {VocabSize})");
        return this;
    }

    /// <summary>Reads and validates a HuggingFace <c>config.json</c>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The JSON is malformed or a field is invalid; the message names the file and field.</exception>
    public static TransformerConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Model config not found: {path}", path);
        TransformerConfig? config;
        try { config = JsonSerializer.Deserialize<TransformerConfig>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: malformed config JSON: {e.Message}", e); }
        return (config ?? throw new InvalidDataException($"{path}: config JSON is empty.")).Validate(path);
    }

    /// <summary>The config as HuggingFace-style JSON (with <c>architectures</c>).</summary>
    public string ToJson()
    {
        var node = JsonSerializer.SerializeToNode(this, JsonOptions)!.AsObject();
        node["architectures"] = new System.Text.Json.Nodes.JsonArray(ModelType == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM");
        node["num_key_value_heads"] = NumKvHeads;
        node["head_dim"] = HeadDim;
        node["attention_bias"] = HasQkvBias;
        return node.ToJsonString(JsonOptions);
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
