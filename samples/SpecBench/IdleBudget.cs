// The idle budget of the adaptation benchmark: what the Quickstart job's own RL steps offer drafter training
// per step, as idle worker-seconds and as the drafter steps they buy at the job's measured cost per step
// (both from the shift's StepMetrics: idle/worker_s, idle/drafter_train_s, drafter/steps). The first step is
// left out: it pays libtorch's per-shape warm-up.
using System.Text.Json.Nodes;
using TltTrainer.Telemetry;

namespace SpecBench;

/// <summary>Idle compute per RL step and the online drafter steps it buys.</summary>
/// <param name="IdleWorkerSeconds">Mean idle worker-seconds per RL step.</param>
/// <param name="WorkerSecondsPerDrafterStep">Worker-seconds one online drafter step took in the job.</param>
/// <param name="MeasuredSteps">Drafter steps the idle time buys per RL step.</param>
/// <param name="StepsPerRlStep">Drafter steps used per RL step (the measured ones unless fixed).</param>
internal sealed record IdleBudget(double IdleWorkerSeconds, double WorkerSecondsPerDrafterStep, int MeasuredSteps, int StepsPerRlStep)
{
    public static IdleBudget From(IReadOnlyList<StepMetrics> shift, int? fixedSteps)
    {
        var steps = shift.Count > 1 ? shift.Skip(1).ToList() : shift.ToList();
        double idle = steps.Average(m => m.IdleWorkerSeconds ?? 0);
        int trained = steps.Sum(m => m.DrafterSteps ?? 0);
        double perStep = trained == 0 ? double.NaN : steps.Sum(m => m.DrafterTrainSeconds ?? 0) / trained;
        int measured = trained == 0 ? 0 : (int)Math.Round(idle / perStep);
        return new IdleBudget(idle, perStep, measured, fixedSteps ?? measured);
    }

    public JsonObject ToJson(IReadOnlyList<StepMetrics> shift) => new()
    {
        ["idle_worker_s_per_rl_step"] = Math.Round(IdleWorkerSeconds, 3), ["worker_s_per_drafter_step"] = Math.Round(WorkerSecondsPerDrafterStep, 4),
        ["measured_drafter_steps_per_rl_step"] = MeasuredSteps, ["drafter_steps_per_rl_step"] = StepsPerRlStep,
        ["shift_steps"] = new JsonArray(shift.Select(m => (JsonNode)new JsonObject
        {
            ["idle_worker_s"] = Math.Round(m.IdleWorkerSeconds ?? 0, 3), ["drafter_train_s"] = Math.Round(m.DrafterTrainSeconds ?? 0, 3),
            ["drafter_steps"] = m.DrafterSteps, ["rollout_s"] = Math.Round(m.RolloutSeconds, 3), ["step_s"] = Math.Round(m.StepSeconds, 3),
            ["accept_len"] = Math.Round(m.AcceptLength, 3), ["reward"] = Math.Round(m.RewardMean, 3),
        }).ToArray()),
    };

    public override string ToString() =>
        $"{IdleWorkerSeconds:F2} idle worker-s per RL step, {WorkerSecondsPerDrafterStep * 1000:F0} ms per drafter step → {MeasuredSteps} steps"
        + (StepsPerRlStep == MeasuredSteps ? "" : $" (fixed at {StepsPerRlStep})");
}
