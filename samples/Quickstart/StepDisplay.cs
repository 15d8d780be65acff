// What the Quickstart shows while it runs: with a terminal, a Spectre.Console progress line per RL step
// (phase, running batch, accepted length, then the step's reward and timing); without one (redirected
// output, --plain), one plain line per step. Progress arrives from the rollout workers' threads, so
// updates go through a lock.
using Spectre.Console;
using TltTrainer.Rl;
using TltTrainer.Telemetry;

namespace Quickstart;

internal static class StepDisplay
{
    /// <summary>Runs <paramref name="steps"/> RL steps with live or plain progress; stops early (returning the steps done) when cancelled.</summary>
    public static List<StepMetrics> Run(RlTrainer trainer, int steps, bool live, bool tlt, CancellationToken cancellationToken)
    {
        var done = new List<StepMetrics>();
        void Loop(Func<int, IProgress<RlProgress>?> progressFor, Action<int, StepMetrics> finished)
        {
            for (int s = 0; s < steps && !cancellationToken.IsCancellationRequested; s++)
            {
                try
                {
                    var m = trainer.RunStep(cancellationToken, progressFor(s));
                    done.Add(m);
                    finished(s, m);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    break;
                }
            }
        }
        if (!live)
        {
            Loop(_ => null, (_, m) => Console.WriteLine("  " + Summary(m, tlt)));
            return done;
        }
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var tasks = new Dictionary<int, ProgressTask>();
                Loop(s => new LiveProgress(tasks[s] = ctx.AddTask(Markup.Escape($"step {s}: starting"), maxValue: 100)), (s, m) =>
                {
                    tasks[s].Description = Markup.Escape(Summary(m, tlt));
                    tasks[s].Value = 100;
                });
            });
        return done;
    }

    private static string Summary(StepMetrics m, bool tlt) =>
        $"step {m.Step,3}: reward {m.RewardMean:F3}, acc {m.Accuracy:F3}, len p50/max {m.ResponseLengthP50:F0}/{m.ResponseLengthMax}, "
        + $"accept {m.AcceptLength:F2}, {m.StepSeconds:F2}s (rollout {m.RolloutSeconds:F2}, update {m.UpdateSeconds:F2})"
        + (tlt ? $", drafter v{m.DrafterVersion}, {m.DrafterSteps} idle steps" : "");

    private sealed class LiveProgress(ProgressTask task) : IProgress<RlProgress>
    {
        private readonly object _gate = new();

        public void Report(RlProgress value)
        {
            lock (_gate)
            {
                if (value.Rollout is { } r)
                {
                    task.Description = Markup.Escape($"step {value.Step}: rollout, running {r.Running}, done {r.Finished}/{r.Total}, accept {r.MeanAcceptLength:F2}");
                    task.Value = 80.0 * r.Finished / Math.Max(1, r.Total);
                }
                else
                {
                    task.Description = Markup.Escape($"step {value.Step}: {value.Phase}");
                    task.Value = value.Phase switch { "reward" => 80, "old_logprob" => 82, "update" => 85, _ => task.Value };
                }
            }
        }
    }
}
