// How per-token losses become one scalar. The denominators are passed in for the whole (mini-)batch,
// not taken from the micro-batch, so that accumulating gradients over micro-batches gives exactly the
// gradient of one big batch:
//   TokenMean:               Σ_i Σ_t l·m / (total masked tokens of the batch)
//   SequenceMeanOfTokenMean: Σ_i (Σ_t l·m / tokens_i) / (sequences of the batch)
//   SequenceMeanOfTokenSum:  Σ_i (Σ_t l·m / C) / (sequences of the batch), C a constant (Dr.GRPO: the max response length)
using TorchSharp;
using static TorchSharp.torch;

namespace TltTrainer.Rl;

/// <summary>Loss aggregation modes.</summary>
public enum LossAggregation
{
    /// <summary>Mean over all response tokens of the batch (DAPO).</summary>
    TokenMean,

    /// <summary>Mean over sequences of each sequence's token mean (original GRPO).</summary>
    SequenceMeanOfTokenMean,

    /// <summary>Mean over sequences of each sequence's token sum divided by a constant (Dr.GRPO).</summary>
    SequenceMeanOfTokenSum,
}

/// <summary>Aggregates per-token losses.</summary>
public static class LossAggregator
{
    /// <summary>Aggregates a micro-batch's per-token losses <c>[N, R]</c> with the batch-wide denominators.</summary>
    /// <param name="perToken">Per-token losses.</param>
    /// <param name="mask">1 at response tokens.</param>
    /// <param name="mode">Aggregation mode.</param>
    /// <param name="batchTokens">Masked tokens in the whole batch (TokenMean).</param>
    /// <param name="batchSequences">Sequences in the whole batch (sequence modes).</param>
    /// <param name="constantNormalizer">C for <see cref="LossAggregation.SequenceMeanOfTokenSum"/>.</param>
    public static Tensor Aggregate(Tensor perToken, Tensor mask, LossAggregation mode, double batchTokens, double batchSequences, double constantNormalizer)
    {
        using var scope = NewDisposeScope();       // keeps the chained temporaries alive through the native calls
        // Every Scalar held in a using variable until its op has run (see Models.RootedScalars).
        using Scalar tokens = Math.Max(batchTokens, 1).ToScalar(), sequences = Math.Max(batchSequences, 1).ToScalar(),
            one = 1.0.ToScalar(), normalizer = constantNormalizer.ToScalar();
        var masked = perToken * mask;
        return (mode switch
        {
            LossAggregation.TokenMean => masked.sum().div(tokens),
            LossAggregation.SequenceMeanOfTokenMean => masked.sum(1).div(mask.sum(1).clamp_min(one)).sum().div(sequences),
            LossAggregation.SequenceMeanOfTokenSum => masked.sum(1).div(normalizer).sum().div(sequences),
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown aggregation"),
        }).MoveToOuterDisposeScope();
    }
}
