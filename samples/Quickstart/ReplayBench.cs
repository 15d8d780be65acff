// The replay benchmark of `--compare`: is the rollout speedup that TLT shows inside the RL job the one speculative
// decoding gives the same work in isolation? The TLT run records the exact requests of its last steps (prompts, seeds,
// budgets) with the policy weights and the drafter snapshot each started from; after the job, each recorded step is
// generated again on a fresh stack of the same shape, plainly and with TLT's adaptive speculation (no idle training, no
// publication, nothing else on the machine), fastest of two runs each, interleaved. replay_rollout_speedup is plain over
// TLT time on those steps; in_job_over_replay divides the job's own speedup on the same steps (off run's rollout seconds
// over the on run's) by it. Sampling is reproducible, so the replay must produce the job's tokens exactly.
using System.Diagnostics;
using System.Text.Json.Nodes;
using TltTrainer.Models;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Speculative;
using TltTrainer.Telemetry;
using TltTrainer.Tlt;
using static TorchSharp.torch;

namespace Quickstart;

/// <summary>One recorded rollout round: its requests, outputs, and the weights it started from.</summary>
internal sealed record RecordedRound(int Step, IReadOnlyList<RolloutRequest> Requests, IReadOnlyList<int[]> Responses,
    Dictionary<string, Tensor> Policy, Dictionary<string, Tensor> Drafter) : IDisposable
{
    public void Dispose()
    {
        foreach (var t in Policy.Values.Concat(Drafter.Values)) t.Dispose();
    }
}

/// <summary>Passes rollouts to the stack and keeps the last few rounds for the replay.</summary>
internal sealed class RecordingRollout(IRolloutGenerator inner, CausalLM policy, EagleDraftModel drafter, Func<int> step, int keep) : IRolloutGenerator, IDisposable
{
    private readonly LinkedList<RecordedRound> _rounds = new();

    public int SequenceCapacity => inner.SequenceCapacity;

    public IReadOnlyCollection<RecordedRound> Rounds => _rounds;

    public RolloutResult Generate(IReadOnlyList<RolloutRequest> requests, CancellationToken cancellationToken = default, IProgress<RolloutProgress>? progress = null)
    {
        var policyAtStart = Snapshot(policy.state_dict());
        var drafterAtStart = Snapshot(drafter.state_dict());
        var result = inner.Generate(requests, cancellationToken, progress);
        _rounds.AddLast(new RecordedRound(step(), requests.ToList(), result.Trajectories.Select(t => t.ResponseTokens).ToList(), policyAtStart, drafterAtStart));
        while (_rounds.Count > keep) { _rounds.First!.Value.Dispose(); _rounds.RemoveFirst(); }
        return result;
    }

    private static Dictionary<string, Tensor> Snapshot(IEnumerable<KeyValuePair<string, Tensor>> weights)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return weights.ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().DetachFromDisposeScope());
    }

    public void Dispose()
    {
        foreach (var r in _rounds) r.Dispose();
        _rounds.Clear();
    }
}

internal static class ReplayBench
{
    /// <summary>Replays <paramref name="rounds"/> and compares the speedup with the job's (<paramref name="off"/> and <paramref name="on"/> steps).</summary>
    public static JsonObject Run(IReadOnlyCollection<RecordedRound> rounds, IReadOnlyList<StepMetrics> off, IReadOnlyList<StepMetrics> on,
        TltRolloutOptions stackOptions, TransformerConfig config)
    {
        double plainTotal = 0, tltTotal = 0, jobOff = 0, jobOn = 0;
        bool identical = true;
        var steps = new JsonArray();
        foreach (var round in rounds)
        {
            using var policy = new CausalLM(config);
            using (no_grad()) foreach (var (name, p) in policy.named_parameters()) p.copy_(round.Policy[name]);
            using var drafter = new EagleDraftModel(config);
            drafter.CopyFrom(round.Drafter, $"drafter of step {round.Step}");
            using var plain = TltRollout.Create(policy, null, stackOptions with { Enabled = false });
            using var tlt = TltRollout.Create(policy, drafter, stackOptions);
            double plainSeconds = double.MaxValue, tltSeconds = double.MaxValue;
            for (int i = 0; i < 2; i++)                                           // interleaved, fastest of two (the first warms the bandits)
            {
                plainSeconds = Math.Min(plainSeconds, Time(plain.Rollout, round.Requests, out _));
                tltSeconds = Math.Min(tltSeconds, Time(tlt.Rollout, round.Requests, out var outputs));
                identical &= outputs.Zip(round.Responses).All(p => p.First.SequenceEqual(p.Second));
            }
            double stepOff = off.First(m => m.Step == round.Step).RolloutSeconds, stepOn = on.First(m => m.Step == round.Step).RolloutSeconds;
            (plainTotal, tltTotal, jobOff, jobOn) = (plainTotal + plainSeconds, tltTotal + tltSeconds, jobOff + stepOff, jobOn + stepOn);
            steps.Add(new JsonObject
            {
                ["step"] = round.Step, ["replay_plain_s"] = Math.Round(plainSeconds, 3), ["replay_tlt_s"] = Math.Round(tltSeconds, 3),
                ["job_off_rollout_s"] = Math.Round(stepOff, 3), ["job_on_rollout_s"] = Math.Round(stepOn, 3),
            });
        }
        double replay = plainTotal / tltTotal, job = jobOff / jobOn;
        return new JsonObject
        {
            ["replay_rollout_speedup"] = Math.Round(replay, 3), ["in_job_rollout_speedup"] = Math.Round(job, 3),
            ["in_job_over_replay"] = Math.Round(job / replay, 3), ["replay_tokens_identical"] = identical, ["replay_steps"] = steps,
        };
    }

    private static double Time(IRolloutGenerator rollout, IReadOnlyList<RolloutRequest> requests, out IReadOnlyList<int[]> outputs)
    {
        var clock = Stopwatch.StartNew();
        var result = rollout.Generate(requests);
        outputs = result.Trajectories.Select(t => t.ResponseTokens).ToList();
        return clock.Elapsed.TotalSeconds;
    }
}
