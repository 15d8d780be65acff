// PPO-clip policy objective with separate lower and upper clip ranges (DAPO "clip-higher") and an
// optional dual clip. Per token, with ratio ρ = exp(logp − logp_old) and advantage A:
//   loss = −min(ρ·A, clip(ρ, 1 − ε_low, 1 + ε_high)·A)
// Dual clip (c > 1): for A < 0 the loss is additionally capped at −c·A, i.e. loss = min(loss, −c·A),
// which bounds the update when ρ is very large on a negative-advantage token.
using TorchSharp;
using static TorchSharp.torch;

namespace TltTrainer.Rl;

/// <summary>Per-token policy losses and statistics of one micro-batch.</summary>
/// <param name="PerToken">Loss per token <c>[N, R]</c> (not yet masked or aggregated).</param>
/// <param name="ClippedLow">Masked tokens whose ratio hit the lower clip (A &lt; 0, ρ &lt; 1 − ε_low).</param>
/// <param name="ClippedHigh">Masked tokens whose ratio hit the upper clip (A &gt; 0, ρ &gt; 1 + ε_high).</param>
/// <param name="DualClipped">Masked tokens capped by the dual clip.</param>
/// <param name="Tokens">Masked tokens.</param>
public sealed record PolicyLossResult(Tensor PerToken, double ClippedLow, double ClippedHigh, double DualClipped, double Tokens);

/// <summary>A policy objective: per-token losses from new and old log-probs and advantages.</summary>
public interface IPolicyObjective
{
    /// <summary>Computes per-token losses.</summary>
    /// <param name="logProbs">New log-probs <c>[N, R]</c> (with grad).</param>
    /// <param name="oldLogProbs">Old log-probs <c>[N, R]</c> (no grad).</param>
    /// <param name="advantages">Per-sequence advantages <c>[N]</c>.</param>
    /// <param name="mask">1 at response tokens <c>[N, R]</c>.</param>
    PolicyLossResult Compute(Tensor logProbs, Tensor oldLogProbs, Tensor advantages, Tensor mask);

    /// <summary>
    /// True when a sequence with advantage exactly 0 contributes no loss and no gradient whatever its log-probs (the update
    /// may then leave it out without changing the step). Default false: an objective that does not say so is run on every sequence.
    /// </summary>
    bool VanishesAtZeroAdvantage => false;
}

/// <summary>PPO-clip with clip-higher and optional dual clip.</summary>
public sealed class PpoClipObjective : IPolicyObjective
{
    /// <summary>True: every term (r·A, clip(r)·A, the dual clip's c·A) is a multiple of the advantage.</summary>
    public bool VanishesAtZeroAdvantage => true;

    /// <summary>Creates the objective.</summary>
    /// <param name="clipLow">ε_low (ratio floor 1 − ε_low). Default 0.2.</param>
    /// <param name="clipHigh">ε_high (ratio ceiling 1 + ε_high); DAPO uses 0.28. Default 0.2.</param>
    /// <param name="dualClip">c &gt; 1 to cap negative-advantage losses at −c·A; null disables. Default null.</param>
    public PpoClipObjective(double clipLow = 0.2, double clipHigh = 0.2, double? dualClip = null)
    {
        if (!(clipLow is > 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(clipLow), clipLow, "must lie in (0, 1).");
        if (!(clipHigh > 0)) throw new ArgumentOutOfRangeException(nameof(clipHigh), clipHigh, "must be > 0.");
        if (dualClip is { } c && !(c > 1)) throw new ArgumentOutOfRangeException(nameof(dualClip), c, "must be > 1.");
        ClipLow = clipLow;
        ClipHigh = clipHigh;
        DualClip = dualClip;
    }

    /// <summary>ε_low.</summary>
    public double ClipLow { get; }

    /// <summary>ε_high.</summary>
    public double ClipHigh { get; }

    /// <summary>Dual-clip constant, or null.</summary>
    public double? DualClip { get; }

    /// <inheritdoc />
    public PolicyLossResult Compute(Tensor logProbs, Tensor oldLogProbs, Tensor advantages, Tensor mask)
    {
        using var scope = NewDisposeScope();       // keeps the chained temporaries alive through the native calls
        // Every Scalar held in a using variable until its op has run (see Models.RootedScalars).
        using Scalar low = (1 - ClipLow).ToScalar(), high = (1 + ClipHigh).ToScalar(), zero = 0.ToScalar(), dualCap = (DualClip ?? 1).ToScalar();
        var a = advantages.unsqueeze(1).to(logProbs.dtype);                        // [N, 1]
        var ratio = logProbs.sub(oldLogProbs).exp();
        var unclipped = ratio.neg().mul(a);
        var clipped = ratio.clamp(low, high).neg().mul(a);
        var loss = maximum(unclipped, clipped);
        double dual = 0;
        if (DualClip is not null)
        {
            var cap = a.neg().mul(dualCap);
            var capped = a.lt(zero).logical_and(loss.gt(cap));
            using (no_grad()) dual = (capped.to(mask.dtype) * mask).sum().item<float>();
            loss = where(capped, cap.expand_as(loss), loss);
        }
        using var noGrad = no_grad();
        double clippedLow = (ratio.lt(low).logical_and(a.lt(zero)).to(mask.dtype) * mask).sum().item<float>();
        double clippedHigh = (ratio.gt(high).logical_and(a.gt(zero)).to(mask.dtype) * mask).sum().item<float>();
        return new PolicyLossResult(loss.MoveToOuterDisposeScope(), clippedLow, clippedHigh, dual, mask.sum().item<float>());
    }
}
