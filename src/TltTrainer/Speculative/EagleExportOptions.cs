// What an EAGLE checkpoint export may vary: the storage dtype, which serving engine's layout to write
// (SGLang and vLLM read the same tensor names but disagree on the fc bias and the architecture name;
// see docs/eagle-export.md), whether the target is served with pipeline parallelism (the one case that
// needs an embedding copy), and whether an existing export may be replaced.
using static TorchSharp.torch;

namespace TltTrainer.Speculative;

/// <summary>Which serving engine's EAGLE-1/2 (Llama) checkpoint layout an export follows.</summary>
public enum EagleServingLayout
{
    /// <summary>
    /// vLLM (<c>EagleLlamaForCausalLM</c>) and the EAGLE reference code: <c>architectures = ["LlamaForCausalLM"]</c>
    /// (vLLM renames it to <c>EagleLlamaForCausalLM</c> itself), no <c>fc.bias</c>, <c>"bias": false</c>.
    /// </summary>
    Vllm,

    /// <summary>
    /// SGLang (<c>LlamaForCausalLMEagle</c>): <c>architectures = ["LlamaForCausalLMEagle"]</c> and an all-zero
    /// <c>fc.bias</c>, because SGLang's fc always has a bias and would otherwise keep its random initial value.
    /// </summary>
    Sglang,
}

/// <summary>Options of <see cref="EagleCheckpoint.Export"/>.</summary>
public sealed record EagleExportOptions
{
    /// <summary>Storage dtype of the weights: <c>Float32</c> (default), <c>BFloat16</c> or <c>Float16</c>. Also written as <c>torch_dtype</c>.</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;

    /// <summary>Which serving engine's layout to write. Default <see cref="EagleServingLayout.Vllm"/>.</summary>
    public EagleServingLayout Layout { get; init; } = EagleServingLayout.Vllm;

    /// <summary>
    /// Whether an existing non-empty folder may be replaced. Default false. Even when true, only a folder holding
    /// nothing but the files an export writes (a previous export) is replaced; anything else is refused.
    /// </summary>
    public bool Overwrite { get; init; }

    /// <summary>
    /// Whether vLLM serves the target with pipeline parallelism (more than one stage). Only then does the drafter need its own
    /// copy of the target's embedding (pass it to <see cref="EagleCheckpoint.Export"/>), because it cannot share the target's;
    /// and only then is one accepted: at one stage some vLLM versions mark a drafter whose checkpoint has <c>embed_tokens</c> as
    /// owning its embedding yet skip loading it, leaving the drafter on an unloaded embedding (docs/eagle-export.md). vLLM layout
    /// only (SGLang always uses the target's embedding). Default false.
    /// </summary>
    public bool PipelineParallel { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the field when invalid.</summary>
    public EagleExportOptions Validate()
    {
        if (DType is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
            throw new ArgumentException($"DType = {DType} is invalid: use Float32, BFloat16 or Float16.");
        if (!Enum.IsDefined(Layout))
            throw new ArgumentException($"Layout = {(int)Layout} is invalid: use {string.Join(" or ", Enum.GetNames<EagleServingLayout>())}.");
        if (PipelineParallel && Layout != EagleServingLayout.Vllm)
            throw new ArgumentException($"PipelineParallel = true is invalid with Layout = {Layout}: SGLang replaces the drafter's embedding with the target's, so no copy is read.");
        return this;
    }
}
