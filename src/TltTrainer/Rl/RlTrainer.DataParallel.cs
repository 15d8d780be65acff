// Data-parallel RL over the ranks of an ICommunicator (MPI), the choices in one place:
//   - every rank draws the same prompts (same sampler, same seed) and keeps a contiguous block of the
//     groups, so a GRPO group stays on one rank (group statistics are local) and request seeds are the
//     global ones: the rollouts are those of one process with the same global batch;
//   - the update sums gradients over the ranks with global loss denominators (PolicyUpdate);
//   - metrics are computed from per-sequence values gathered from every rank; only rank 0 writes them;
//   - rank 0 alone writes checkpoints, the others wait at a barrier. A checkpoint holds nothing per rank
//     (the sampler position and the replicas are identical everywhere), so a run resumes on any number
//     of ranks; every rank reads the same folder (a shared file system, or a copy on each host).
// With one rank every collective is the identity and the trainer behaves exactly as before.
using TltTrainer.Distributed;
using TltTrainer.Telemetry;

namespace TltTrainer.Rl;

public sealed partial class RlTrainer
{
    private ICommunicator _communicator = SingleProcessCommunicator.Instance;
    private bool _replicasSynced;

    /// <summary>
    /// The ranks this trainer shares its work with (data-parallel RL), or a single process (the default).
    /// Every rank must construct its trainer the same way and call <see cref="RunStep"/> and
    /// <see cref="SaveCheckpoint"/> in the same order. <see cref="RlTrainerOptions.PromptsPerStep"/> must be
    /// at least the number of ranks. The trainer does not own the communicator.
    /// </summary>
    public ICommunicator Communicator
    {
        get => _communicator;
        init
        {
            if (value.Size > _options.PromptsPerStep)
                throw new ArgumentException($"PromptsPerStep = {_options.PromptsPerStep} is smaller than the {value.Size} ranks: every rank needs at least one group.", nameof(value));
            _communicator = value;
            _update.Communicator = value;
        }
    }

    /// <summary>This rank's block [First, First + Count) of <paramref name="groups"/> groups.</summary>
    private (int First, int Count) Shard(int groups)
    {
        int first = (int)((long)groups * _communicator.Rank / _communicator.Size);
        int end = (int)((long)groups * (_communicator.Rank + 1) / _communicator.Size);
        return (first, end - first);
    }

    /// <summary>Makes every replica start from rank 0's weights (once; identical construction is then not required).</summary>
    private void SyncReplicasOnce()
    {
        if (_replicasSynced || _communicator.Size == 1) return;
        _communicator.Broadcast(_policy, 0);
        if (_reference is not null) _communicator.Broadcast(_reference, 0);
        _replicasSynced = true;
    }

    /// <summary>The step's per-sequence values and rollout totals over all ranks (this rank's alone in a single process).</summary>
    private StepView GlobalView(CollectedBatch collected, RolloutTotals rollout, IReadOnlyList<ResponseText> texts, double gap)
    {
        var batch = collected.Batch;
        int accurate = AccuracyCheck is null ? 0 : texts.Count(t => AccuracyCheck(t.Response, t.Answer));
        var lengths = batch.Responses.Select(r => r.Length).ToArray();
        if (_communicator.Size == 1) return new StepView(batch.Rewards, lengths, accurate, rollout, collected.GroupsDropped, gap, collected.Outcomes);

        var rewards = _communicator.AllGatherVariable<double>(batch.Rewards).SelectMany(r => r).ToArray();
        var allLengths = _communicator.AllGatherVariable<int>(lengths).SelectMany(l => l).ToArray();
        Span<double> sums = [accurate, rollout.Tokens, rollout.AcceptSum, rollout.AcceptCount, rollout.CanonicalDraws];
        _communicator.AllReduce(sums);
        Span<double> maxima = [rollout.RolloutSeconds, rollout.RewardSeconds, gap];
        _communicator.AllReduce(maxima, ReduceOperation.Max);
        // Arm choices are summed over the ranks' engines; drafter failures keep the rank that saw them.
        var arms = new Dictionary<string, long>();
        foreach (var rank in _communicator.AllGatherStrings(rollout.ArmChoices.Select(kv => $"{kv.Value} {kv.Key}").ToList()))
            foreach (var entry in rank)
            {
                int space = entry.IndexOf(' ');
                var key = entry[(space + 1)..];
                arms[key] = arms.GetValueOrDefault(key) + long.Parse(entry[..space], System.Globalization.CultureInfo.InvariantCulture);
            }
        var failures = _communicator.AllGatherStrings(rollout.DrafterFailures)
            .SelectMany((list, rank) => list.Select(f => $"rank {rank}: {f}")).ToList();
        var totals = rollout with
        {
            RolloutSeconds = maxima[0], RewardSeconds = maxima[1], Tokens = (long)sums[1], AcceptSum = sums[2], AcceptCount = (int)sums[3],
            CanonicalDraws = (long)sums[4],
            ArmChoices = arms, DrafterFailures = failures,
        };
        // Dropped groups are already global (counted from the shared keep/drop decisions).
        return new StepView(rewards, allLengths, (int)sums[0], totals, collected.GroupsDropped, maxima[2], GlobalOutcomes(collected.Outcomes, allLengths));
    }

    /// <summary>The response outcomes of every rank, in rank order (as the gathered lengths).</summary>
    private ResponseOutcomes GlobalOutcomes(ResponseOutcomes mine, int[] allLengths)
    {
        int width = mine.RewardNames.Count;
        var stopped = _communicator.AllGatherVariable<int>(mine.Stopped.Select(s => s ? 1 : 0).ToArray()).SelectMany(s => s).Select(s => s == 1).ToArray();
        var flat = _communicator.AllGatherVariable<double>(mine.RewardScores.SelectMany(r => r).ToArray()).SelectMany(s => s).ToArray();
        var rows = Enumerable.Range(0, flat.Length / width).Select(i => flat.AsSpan(i * width, width).ToArray()).ToArray();
        var accept = _communicator.AllGatherVariable<double>(mine.AcceptLengths?.ToArray() ?? Enumerable.Repeat(1.0, mine.Lengths.Count).ToArray())
            .SelectMany(a => a).ToArray();
        Span<int> counts = [mine.Groups, mine.FlatGroups, mine.AcceptLengths is null ? 0 : 1];
        _communicator.AllReduce(counts);
        return mine with
        {
            Lengths = allLengths, Stopped = stopped, RewardScores = rows, Groups = counts[0], FlatGroups = counts[1], AcceptLengths = counts[2] > 0 ? accept : null,
        };
    }
}
