// Per-token estimators of KL(π ‖ π_ref) from the log-probs of sampled tokens (Schulman's k1/k2/k3):
//   k1 = logp − logp_ref                         (unbiased, high variance, can be negative)
//   k2 = ½ (logp − logp_ref)²
//   k3 = exp(logp_ref − logp) − (logp_ref − logp) − 1   (unbiased, low variance, ≥ 0)
using TorchSharp;
using static TorchSharp.torch;

namespace TltTrainer.Rl;

/// <summary>KL estimator choice.</summary>
public enum KlEstimator
{
    /// <summary>logp − logp_ref.</summary>
    K1,

    /// <summary>½ (logp − logp_ref)².</summary>
    K2,

    /// <summary>exp(logp_ref − logp) − (logp_ref − logp) − 1.</summary>
    K3,
}

/// <summary>Computes per-token KL estimates.</summary>
public static class KlEstimates
{
    /// <summary>Per-token estimate <c>[N, R]</c> of KL(π ‖ π_ref).</summary>
    public static Tensor PerToken(Tensor logProbs, Tensor refLogProbs, KlEstimator estimator)
    {
        using var scope = NewDisposeScope();       // keeps the chained temporaries alive through the native calls
        using Scalar half = 0.5.ToScalar(), one = 1.0.ToScalar();                   // held until the ops ran (see Models.RootedScalars)
        var d = logProbs.sub(refLogProbs);
        return (estimator switch
        {
            KlEstimator.K1 => d,
            KlEstimator.K2 => d.mul(d).mul(half),
            KlEstimator.K3 => d.neg().exp().add(d, Models.RootedScalars.One).sub(one),
            _ => throw new ArgumentOutOfRangeException(nameof(estimator), estimator, "unknown estimator"),
        }).MoveToOuterDisposeScope();
    }
}
