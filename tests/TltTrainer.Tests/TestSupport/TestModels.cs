using TltTrainer.Models;

namespace TltTrainer.Tests.TestSupport;

/// <summary>Small models for engine tests.</summary>
internal static class TestModels
{
    /// <summary>
    /// A random model with peaked next-token distributions (weights with std <paramref name="std"/> rather than 0.02),
    /// so greedy decoding never meets float-noise near-ties between batch shapes.
    /// </summary>
    public static CausalLM Peaked(TransformerConfig config, int seed, double std = 0.25)
    {
        var model = new CausalLM(config, seed);
        using var noGrad = no_grad();
        using var g = new Generator((ulong)seed + 1000);
        foreach (var (name, p) in model.named_parameters())
            if (!name.Contains("norm")) p.normal_(0, std, g);
        return model;
    }

    /// <summary>Config of a very small vocabulary model for distribution tests.</summary>
    public static TransformerConfig SmallVocab(int vocab) => TransformerPresets.Tiny with { VocabSize = vocab };
}
