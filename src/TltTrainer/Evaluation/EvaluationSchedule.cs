// When an RL run evaluates: after every N-th step and after the run's last step. RlTrainer runs the
// evaluation after the step's update, outside the step's timing (time/eval_s, never time/rollout_s), and
// adds the val/ metrics to that step's line.
namespace TltTrainer.Evaluation;

/// <summary>Which RL steps are followed by an evaluation.</summary>
/// <param name="Evaluator">The evaluator (its engine must generate with the trained policy).</param>
/// <param name="EveryNSteps">Evaluate after steps N, 2N, ... (counting from 1); 0 = only after the last step. Default 0.</param>
/// <param name="TotalSteps">The run's length: evaluate after this many steps too; null = no final evaluation. Default null.</param>
public sealed record EvaluationSchedule(RolloutEvaluator Evaluator, int EveryNSteps = 0, int? TotalSteps = null)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the field and value when invalid.</summary>
    public EvaluationSchedule Validate()
    {
        ArgumentNullException.ThrowIfNull(Evaluator, nameof(Evaluator));
        if (EveryNSteps < 0) throw new ArgumentException($"EveryNSteps = {EveryNSteps} is invalid: must be ≥ 0 (0 = only after the last step).");
        if (TotalSteps is < 1) throw new ArgumentException($"TotalSteps = {TotalSteps} is invalid: must be ≥ 1, or null.");
        if (EveryNSteps == 0 && TotalSteps is null) throw new ArgumentException("EveryNSteps = 0 and TotalSteps = null: the schedule would never evaluate.");
        return this;
    }

    /// <summary>Whether to evaluate once <paramref name="stepsDone"/> steps are done.</summary>
    public bool IsDue(int stepsDone) => stepsDone >= 1 && ((EveryNSteps > 0 && stepsDone % EveryNSteps == 0) || stepsDone == TotalSteps);
}
