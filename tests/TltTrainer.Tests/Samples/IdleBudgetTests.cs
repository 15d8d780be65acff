using SpecBench;
using TltTrainer.Telemetry;

namespace TltTrainer.Tests.Samples;

/// <summary>The adaptation benchmark's idle budget: what the job's own steps offer, read from their metrics (the first step left out).</summary>
public sealed class IdleBudgetTests
{
    private static StepMetrics Step(double idle, double trainSeconds, int drafterSteps) =>
        new() { IdleWorkerSeconds = idle, DrafterTrainSeconds = trainSeconds, DrafterSteps = drafterSteps };

    [Fact]
    public void From_SkipsTheWarmUpStep_AndBuysStepsAtTheJobsCostPerStep()
    {
        // Step 0 pays libtorch's warm-up and is ignored; then 0.6 idle worker-s per RL step at 0.1 s per drafter step.
        var shift = new[] { Step(9.0, 9.0, 3), Step(0.4, 0.4, 4), Step(0.8, 0.8, 8) };

        var budget = IdleBudget.From(shift, fixedSteps: null);

        Assert.Equal(0.6, budget.IdleWorkerSeconds, 12);
        Assert.Equal(0.1, budget.WorkerSecondsPerDrafterStep, 12);
        Assert.Equal(6, budget.MeasuredSteps);
        Assert.Equal(6, budget.StepsPerRlStep);
    }

    [Fact]
    public void From_FixedSteps_OverrideTheMeasurement_WhichIsStillReported()
    {
        var budget = IdleBudget.From(new[] { Step(1, 1, 1), Step(0.5, 0.25, 1) }, fixedSteps: 15);

        Assert.Equal(2, budget.MeasuredSteps);
        Assert.Equal(15, budget.StepsPerRlStep);
    }

    [Fact]
    public void From_NoDrafterStepTaken_BuysNothing()
    {
        var budget = IdleBudget.From(new[] { Step(1, 0, 0), Step(0.5, 0, 0) }, fixedSteps: null);

        Assert.Equal(0, budget.MeasuredSteps);
    }
}
