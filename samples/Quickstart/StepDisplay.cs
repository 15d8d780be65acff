// What the Quickstart shows while it runs: with a terminal, a Spectre.Console progress line per RL step
// and run (phase, running batch, accepted length, then the step's reward and timing); without one
// (redirected output, --plain), one plain line per step. A comparison interleaves the two runs step by
// step and alternates which goes first, so neither run alone pays (or profits from) one-off warm-up of
// new tensor shapes. Progress arrives from the rollout workers' threads, so updates go through a lock.
using Spectre.Console;
using TltTrainer.Rl;
using TltTrainer.Telemetry;

namespace Quickstart;

internal static class StepDisplay
{
    /// <summary>Runs <paramref name="steps"/> RL steps of every run; stops early (keeping the steps done) when cancelled.</summary>
    /// <param name="quiet">Show nothing (the MPI ranks other than 0).</param>
    public static void Run(IReadOnlyList<QuickstartRun> runs, int steps, bool live, CancellationToken cancellationToken, bool quiet = false)
    {
        void Loop(Func<QuickstartRun, int, IProgress<RlProgress>?> progressFor, Action<QuickstartRun, int, StepMetrics> finished)
        {
            for (int s = 0; s < steps && !cancellationToken.IsCancellationRequested; s++)
            {
                var order = s % 2 == 0 ? runs : runs.Reverse().ToList();
                foreach (var run in order)
                {
                    try
                    {
                        finished(run, s, run.Step(cancellationToken, progressFor(run, s)));
                    }
                    catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                    {
                        return;
                    }
                }
            }
        }
        if (quiet)
        {
            Loop((_, _) => null, (_, _, _) => { });
            return;
        }
        if (!live)
        {
            Loop((_, _) => null, (run, _, m) => Console.WriteLine($"  TLT {run.Name,-3} " + Summary(m, run.Tlt)));
            return;
        }
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var tasks = new Dictionary<(string, int), ProgressTask>();
                Loop((run, s) => new LiveProgress(tasks[(run.Name, s)] = ctx.AddTask(Markup.Escape($"TLT {run.Name} step {s}: starting"), maxValue: 100), run.Name),
                    (run, s, m) =>
                    {
                        tasks[(run.Name, s)].Description = Markup.Escape($"TLT {run.Name,-3} " + Summary(m, run.Tlt));
                        tasks[(run.Name, s)].Value = 100;
                    });
            });
    }

    private static string Summary(StepMetrics m, bool tlt) =>
        $"step {m.Step,3}: reward {m.RewardMean:F3}, acc {m.Accuracy:F3}, len p50/max {m.ResponseLengthP50:F0}/{m.ResponseLengthMax}, "
        + $"accept {m.AcceptLength:F2}, {m.StepSeconds:F2}s (rollout {m.RolloutSeconds:F2}, update {m.UpdateSeconds:F2})"
        + (tlt ? $", drafter v{m.DrafterVersion}, {m.DrafterSteps} idle steps" : "")
        + (m.EvaluationSeconds is { } e ? $", held-out acc {m.ValidationAccuracy:F3} ({e:F1}s)" : "");

    private sealed class LiveProgress(ProgressTask task, string run) : IProgress<RlProgress>
    {
        private readonly object _gate = new();

        public void Report(RlProgress value)
        {
            lock (_gate)
            {
                if (value.Rollout is { } r)
                {
                    task.Description = Markup.Escape($"TLT {run} step {value.Step}: rollout, running {r.Running}, done {r.Finished}/{r.Total}, accept {r.MeanAcceptLength:F2}");
                    task.Value = 80.0 * r.Finished / Math.Max(1, r.Total);
                }
                else
                {
                    task.Description = Markup.Escape($"TLT {run} step {value.Step}: {value.Phase}");
                    task.Value = value.Phase switch { "reward" => 80, "old_logprob" => 82, "update" => 85, _ => task.Value };
                }
            }
        }
    }
}
