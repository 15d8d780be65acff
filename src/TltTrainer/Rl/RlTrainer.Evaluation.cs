// Evaluation on a held-out set after scheduled steps (EvaluationSchedule): it runs after the step's update
// and metrics, is timed on its own (time/eval_s; the step's time/step_s and time/rollout_s exclude it), and
// its val/ numbers join that step's metrics line. Under MPI rank 0 alone evaluates (the replicas are
// identical) while the others go on to their next collective. A cancellation during the evaluation leaves
// the step as done (its update is applied) and records no val/ numbers; the next RunStep sees the token.
using TltTrainer.Evaluation;
using TltTrainer.Telemetry;

namespace TltTrainer.Rl;

public sealed partial class RlTrainer
{
    private readonly EvaluationSchedule? _evaluation;

    /// <summary>Held-out evaluation after scheduled steps, or null (the default: none).</summary>
    public EvaluationSchedule? Evaluation
    {
        get => _evaluation;
        init => _evaluation = value?.Validate();
    }

    /// <summary><paramref name="metrics"/> with the val/ numbers of an evaluation when one is due after this step.</summary>
    private StepMetrics EvaluateIfDue(StepMetrics metrics, CancellationToken cancellationToken)
    {
        if (_evaluation is null || _communicator.Rank != 0 || !_evaluation.IsDue(Step + 1)) return metrics;
        EvaluationResult result;
        try { result = _evaluation.Evaluator.Evaluate(cancellationToken); }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { return metrics; }
        return metrics with
        {
            ValidationAccuracy = result.Accuracy,
            ValidationReward = result.RewardMean,
            ValidationResponseLengthMean = result.ResponseLengthMean,
            ValidationPassAtK = result.PassAtK,
            ValidationK = result.PassAtK is null ? null : result.K,
            ValidationBucketAccuracy = result.Buckets.Count == 0 ? null : result.Buckets.ToDictionary(b => b.Bucket, b => b.Accuracy),
            EvaluationSeconds = result.Seconds,
        };
    }
}
