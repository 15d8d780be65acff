// The rollout half of an RL step: sample prompts, generate G responses each, score them, drop groups
// without signal (dynamic sampling) and refill, compute advantages.
using System.Diagnostics;
using TltTrainer.Rollout;
using TltTrainer.Telemetry;

namespace TltTrainer.Rl;

public sealed partial class RlTrainer
{
    /// <summary>
    /// The rollout half of a step, in rounds (one, or more with dynamic sampling refilling dropped groups): plan the round's
    /// requests, generate them, score them, keep the groups with a learning signal; then advantages over the kept groups.
    /// </summary>
    private CollectedStep CollectRollouts(CancellationToken cancellationToken, IProgress<RlProgress>? progress)
    {
        var collector = new StepCollector();
        int lastRound = _options.DynamicSampling ? _options.MaxRefillRounds : 0;
        for (int round = 0; round <= lastRound && collector.KeptGroups < _options.PromptsPerStep; round++)
        {
            var planned = PlanRound(round, _options.PromptsPerStep - collector.KeptGroups);
            var trajectories = Generate(planned, collector, cancellationToken, progress);
            var scores = Score(planned, trajectories, collector, progress);
            int keptBefore = collector.KeptGroups, droppedBefore = collector.DroppedGroups;
            KeepGroups(planned, trajectories, scores, collector, lastChance: round == lastRound);
            // Keep/drop decisions are per group; the counts that steer the refill are global.
            if (_communicator.Size > 1) collector.ShareCounts(keptBefore, droppedBefore, SumOverRanks);
        }
        return collector.Build(_options.Advantage, _rewards.Names);
    }

    /// <summary>Draws the round's prompts (the same on every rank) and makes this rank's block of them into requests.</summary>
    private RolloutRound PlanRound(int round, int need)
    {
        int maxPrompt = _engine.SequenceCapacity - _options.Sampling.MaxNewTokens;
        var examples = _sampler.Next(need);
        var (first, count) = Shard(examples.Count);
        var requests = new List<RolloutRequest>();
        for (int p = first; p < first + count; p++)
        {
            var text = _options.Template.Apply(examples[p].Prompt);
            var ids = PromptLength.Apply(_tokenizer.Encode(text), maxPrompt, _options.OverlongPrompts, examples[p].Prompt);
            long group = ((long)Step << 20) + round * 4096 + p;
            for (int g = 0; g < _options.GroupSize; g++)
            {
                long id = (long)p * _options.GroupSize + g;   // the global request index: seeds as in one process
                ulong seed = Mix(_options.Seed, (ulong)Step, (ulong)round, (ulong)id);
                requests.Add(new RolloutRequest(id, ids, _options.Sampling with { Seed = seed }, group));
            }
        }
        return new RolloutRound(round, examples, first, count, requests);
    }

    /// <summary>Generates the round's requests; the drafter's trainer hears that the round ended.</summary>
    private IReadOnlyList<Trajectory> Generate(RolloutRound round, StepCollector collector, CancellationToken cancellationToken, IProgress<RlProgress>? progress)
    {
        progress?.Report(new RlProgress(Step, "rollout", null));
        var clock = Stopwatch.StartNew();
        var engineProgress = progress is null ? null : new ForwardProgress(p => progress.Report(new RlProgress(Step, "rollout", p)));
        var result = round.Requests.Count == 0 ? new RolloutResult([], new RolloutMetrics()) : _engine.Generate(round.Requests, cancellationToken, engineProgress);
        collector.AddGeneration(result.Metrics, clock.Elapsed.TotalSeconds);
        Tlt?.RoundEnded(_communicator);   // a rank done early trains the drafter until every rank's round has ended
        return result.Trajectories;
    }

    /// <summary>Decodes and rewards the round's responses.</summary>
    private RoundScores Score(RolloutRound round, IReadOnlyList<Trajectory> trajectories, StepCollector collector, IProgress<RlProgress>? progress)
    {
        progress?.Report(new RlProgress(Step, "reward", null));
        var clock = Stopwatch.StartNew();
        var decoded = trajectories.Select(t => _tokenizer.Decode(t.ResponseTokens, skipSpecialTokens: true)).ToList();
        var example = (int i) => round.Examples[round.First + i / _options.GroupSize];
        var inputs = trajectories.Select((t, i) => new RewardInput(t.RequestId, example(i).Prompt, decoded[i], example(i).Answer)).ToList();
        var (totals, scores) = _rewards.Score(inputs);
        collector.AddRewardSeconds(clock.Elapsed.TotalSeconds);
        return new RoundScores(totals, scores, decoded);
    }

    /// <summary>
    /// Keeps the round's groups, or with dynamic sampling drops those whose rewards are all equal (no advantage signal) —
    /// except that the last round keeps its last group if nothing was kept, so a step always has data.
    /// </summary>
    private void KeepGroups(RolloutRound round, IReadOnlyList<Trajectory> trajectories, RoundScores scores, StepCollector collector, bool lastChance)
    {
        for (int p = round.First; p < round.First + round.Count; p++)
        {
            var members = Enumerable.Range((p - round.First) * _options.GroupSize, _options.GroupSize).ToArray();
            bool flat = members.All(i => scores.Totals[i] == scores.Totals[members[0]]);
            collector.CountScored(flat);
            bool keepAnyway = lastChance && collector.KeptGroups == 0 && p == round.Examples.Count - 1;
            if (_options.DynamicSampling && flat && _options.GroupSize > 1 && !keepAnyway)
            {
                collector.Drop();
                continue;
            }
            collector.Keep(trajectories, members, scores, round.Examples[p].Answer);
        }
    }

    private (int Kept, int Dropped) SumOverRanks(int kept, int dropped)
    {
        Span<int> counts = [kept, dropped];
        _communicator.AllReduce(counts);
        return (counts[0], counts[1]);
    }

    private StepMetrics Metrics(StepView view, double oldSeconds, double updateSeconds, UpdateStats stats, double stepSeconds)
    {
        var (rewards, unsorted, accurate, rollout, groupsDropped, gap, outcomes) = view;
        var lengths = unsorted.OrderBy(x => x).ToArray();
        double mean = rewards.Average();
        return ResponseStatistics.Apply(new StepMetrics
        {
            Step = Step,
            RewardMean = mean,
            RewardStd = Math.Sqrt(rewards.Sum(r => (r - mean) * (r - mean)) / rewards.Length),
            Accuracy = AccuracyCheck is null ? null : accurate / (double)rewards.Length,
            ResponseLengthMean = lengths.Average(),
            ResponseLengthP50 = Percentile(lengths, 0.5),
            ResponseLengthP90 = Percentile(lengths, 0.9),
            ResponseLengthMax = lengths[^1],
            ResponseLengths = unsorted,
            RolloutSeconds = rollout.RolloutSeconds,
            RewardSeconds = rollout.RewardSeconds,
            OldLogProbSeconds = oldSeconds,
            UpdateSeconds = updateSeconds,
            StepSeconds = stepSeconds,
            RolloutTokensPerSecond = rollout.Tokens / Math.Max(rollout.RolloutSeconds, 1e-9),
            AcceptLength = rollout.AcceptCount == 0 ? 1.0 : rollout.AcceptSum / rollout.AcceptCount,
            CanonicalDraws = rollout.CanonicalDraws,
            Timeline = rollout.Timeline.Count == 0 ? null : rollout.Timeline,
            LogProbGapMax = gap,
            ArmChoices = rollout.ArmChoices.Count == 0 ? null : rollout.ArmChoices,
            DrafterFailures = rollout.DrafterFailures.Count == 0 ? null : rollout.DrafterFailures,
            GroupsDropped = groupsDropped,
            Loss = stats.Loss,
            Kl = stats.Kl,
            ClipFraction = stats.ClipFraction,
            Entropy = stats.Entropy,
            GradNorm = stats.GradNorm,
            LearningRate = stats.LearningRate,
            SkippedSteps = stats.SkippedSteps,
            ZeroAdvantageTokenShare = stats.ZeroAdvantageTokenShare,
        }, outcomes);
    }

    private static double Percentile(int[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Floor(q * (sorted.Length - 1) + 0.5))];

    private static ulong Mix(ulong a, ulong b, ulong c, ulong d)
    {
        ulong h = a * 0x9E3779B97F4A7C15UL ^ (b + 0x632BE59BD9B4E019UL);
        h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9UL ^ (c * 0x94D049BB133111EBUL);
        h = (h ^ (h >> 32)) * 0x9E3779B97F4A7C15UL ^ d;
        return h ^ (h >> 31);
    }

    private sealed class ForwardProgress(Action<RolloutProgress> report) : IProgress<RolloutProgress>
    {
        public void Report(RolloutProgress value) => report(value);
    }
}
