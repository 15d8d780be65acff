using TltTrainer.Speculative;

namespace TltTrainer.Rollout;

/// <summary>Settings of a <see cref="RolloutEngine"/>.</summary>
public sealed record RolloutEngineOptions
{
    /// <summary>Most sequences decoded together; the rest wait and join as others finish. Default 64.</summary>
    public int MaxRunningBatch { get; init; } = 64;

    /// <summary>KV-cache capacity per sequence (prompt + response); 0 = the model's max positions. Default 0.</summary>
    public int MaxSequenceLength { get; init; }

    /// <summary>
    /// Padded prompt tokens (rows × longest prompt) per prefill forward: newcomers are sorted by prompt length and
    /// prefilled in chunks under this budget, so a few long prompts do not pad every short one. 0 = one forward. Default 1024.
    /// </summary>
    public int PrefillTokens { get; init; } = 1024;

    /// <summary>Drafter for speculative decoding, or null for plain decoding. The engine does not own it.</summary>
    public IDrafter? Drafter { get; init; }

    /// <summary>Draft shape used when speculating. Default a chain of depth 4.</summary>
    public SpecStrategy Strategy { get; init; } = SpecStrategy.ChainOf(4);

    /// <summary>Speculate only while the running batch is at most this size (speculation pays in the small-batch tail). Default unlimited.</summary>
    public int SpeculateAtOrBelowBatch { get; init; } = int.MaxValue;

    /// <summary>
    /// Adaptive speculation (speculate only in the small-batch tail, arm chosen per batch bucket by a bandit), or null for the
    /// fixed policy of <see cref="Drafter"/>/<see cref="Strategy"/>. The object keeps its bandits across calls.
    /// </summary>
    public AdaptiveSpeculation? Adaptive { get; init; }

    /// <summary>Logger for warnings (e.g. a drafter that failed and was dropped). Default none.</summary>
    public Microsoft.Extensions.Logging.ILogger? Logger { get; init; }

    /// <summary>Verification rule for sampled requests with deterministic drafts. Default coupled (same tokens as plain decoding for the same seed).</summary>
    public TreeVerification TreeVerification { get; init; } = TreeVerification.Coupled;

    /// <summary>
    /// The largest difference, in logits, between what two computation paths give for the same position (a one-token
    /// decode step, a verification forward over several tokens, another batch composition: matrix kernels round
    /// differently for different shapes; about 2e-5 measured for float32 models on CPU). A greedy or coupled draw that
    /// falls closer than a few times this to a decision boundary is redone on a canonical path (an uncached forward of the
    /// row's prefix alone, on one thread), so that the tokens never depend on the path: with speculation on they equal
    /// plain decoding's for the same seeds, and a resumed run equals the uninterrupted one, whatever the drafter, the
    /// draft shape or the arm the adaptive policy chose. Null (default): 1e-4 for float32 models and 0 for half-precision
    /// ones, whose paths differ by ~0.1 (a tolerance that large would send most draws to the canonical path, so there
    /// tokens match only up to rare flips). 0 turns the recomputation off.
    /// </summary>
    public double? PathTolerance { get; init; }

    /// <summary>
    /// Test seam: called on the logits of every batched forward (prefill, decode, verification; not the canonical path's), to
    /// stand in for the rounding of another machine or kernel.
    /// </summary>
    internal Action<float[]>? PerturbBatchedLogits { get; init; }

    /// <summary>Receives the target's hidden states of generated tokens, or null.</summary>
    public IHiddenStateSink? HiddenStateSink { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the field when invalid.</summary>
    public RolloutEngineOptions Validate()
    {
        if (MaxRunningBatch < 1) throw new ArgumentException($"MaxRunningBatch = {MaxRunningBatch} must be ≥ 1.", nameof(MaxRunningBatch));
        if (MaxSequenceLength < 0) throw new ArgumentException($"MaxSequenceLength = {MaxSequenceLength} must be ≥ 0 (0 = model's max positions).", nameof(MaxSequenceLength));
        if (PrefillTokens < 0) throw new ArgumentException($"PrefillTokens = {PrefillTokens} must be ≥ 0 (0 = one forward).", nameof(PrefillTokens));
        Strategy.Validate();
        if (PathTolerance is { } t && !(t >= 0 && double.IsFinite(t)))
            throw new ArgumentException($"PathTolerance = {t} must be finite and ≥ 0 (0 turns canonical recomputation off).", nameof(PathTolerance));
        return this;
    }
}
