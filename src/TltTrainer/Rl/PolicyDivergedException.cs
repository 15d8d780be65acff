namespace TltTrainer.Rl;

/// <summary>
/// The policy diverged: an update left non-finite weights, or the policy computes non-finite logits. The step that found it
/// is not counted and its metrics are not written; the in-memory policy is unusable (resume from the last checkpoint, e.g.
/// with a lower learning rate). Checkpoints written before it hold healthy weights: the trainer checks the policy after
/// every update, before a checkpoint can be taken.
/// </summary>
public sealed class PolicyDivergedException : InvalidOperationException
{
    /// <summary>Creates the exception for RL step <paramref name="step"/>.</summary>
    public PolicyDivergedException(int step, string reason, Exception? inner = null)
        : base($"the policy diverged in RL step {step}: {reason}", inner)
    {
        Step = step;
        Reason = reason;
    }

    /// <summary>The RL step in which the divergence showed.</summary>
    public int Step { get; }

    /// <summary>What was found (a non-finite parameter, non-finite logits).</summary>
    public string Reason { get; }
}
