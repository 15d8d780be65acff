using static TorchSharp.torch;

namespace TltTrainer.Models;

/// <summary>What one <see cref="CausalLM.Forward"/> returns. Owns its tensors: dispose it (or move tensors out).</summary>
public sealed class CausalLMOutput : IDisposable
{
    internal CausalLMOutput(Tensor hidden, Tensor? logits, IReadOnlyDictionary<int, Tensor> layerHidden)
    {
        Hidden = hidden;
        Logits = logits;
        LayerHidden = layerHidden;
    }

    /// <summary>Final hidden state after the final norm (the input of <c>lm_head</c>): <c>[B, T, H]</c>, model dtype.</summary>
    public Tensor Hidden { get; }

    /// <summary>Float32 logits <c>[B, T, V]</c>, or null when not requested.</summary>
    public Tensor? Logits { get; }

    /// <summary>Outputs of the requested intermediate layers (before the final norm), by layer index: <c>[B, T, H]</c>.</summary>
    public IReadOnlyDictionary<int, Tensor> LayerHidden { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        Hidden.Dispose();
        Logits?.Dispose();
        foreach (var t in LayerHidden.Values) t.Dispose();
    }
}

/// <summary>Options of one forward.</summary>
/// <param name="ComputeLogits">Whether to run <c>lm_head</c> over every position.</param>
/// <param name="CaptureLayers">Indices of layers whose outputs to return (e.g. low/middle/high for an EAGLE-3 drafter).</param>
public sealed record ForwardOptions(bool ComputeLogits, IReadOnlySet<int> CaptureLayers)
{
    /// <summary>Logits for every position, no intermediate layers.</summary>
    public static ForwardOptions Default { get; } = new(true, new HashSet<int>());

    /// <summary>Hidden states only (the caller picks positions and calls <see cref="CausalLM.LmHead"/>).</summary>
    public static ForwardOptions HiddenOnly { get; } = new(false, new HashSet<int>());
}
