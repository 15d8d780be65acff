// The rollout half of an RL step: sample prompts, generate G responses each, score them, drop groups
// without signal (dynamic sampling) and refill, compute advantages.
using System.Diagnostics;
using TltTrainer.Rollout;
using TltTrainer.Telemetry;

namespace TltTrainer.Rl;

public sealed partial class RlTrainer
{
    /// <summary>The step's data plus what the metrics need.</summary>
    private sealed record CollectedBatch(RlBatch Batch, IReadOnlyList<float[]> RolloutLogProbs, int GroupsDropped, ResponseOutcomes Outcomes);

    private sealed record RolloutTotals(double RolloutSeconds, double RewardSeconds, long Tokens, double AcceptSum, int AcceptCount,
        Dictionary<string, long> ArmChoices, List<string> DrafterFailures, long CanonicalDraws, List<TimelinePoint> Timeline);

    private (CollectedBatch Batch, RolloutTotals Totals, IReadOnlyList<(string Response, string? Answer)> Texts) CollectRollouts(
        CancellationToken cancellationToken, IProgress<RlProgress>? progress)
    {
        var prompts = new List<int[]>();
        var responses = new List<int[]>();
        var rewards = new List<double>();
        var groups = new List<long>();
        var logProbs = new List<float[]>();
        var texts = new List<(string, string?)>();
        var stopped = new List<bool>();
        var scoreRows = new List<double[]>();
        var acceptLengths = new List<double>();
        bool drafted = false;
        int groupsScored = 0, flatGroups = 0;
        double rolloutSeconds = 0, rewardSeconds = 0, acceptSum = 0;
        long tokens = 0, canonical = 0;
        var timeline = new List<TimelinePoint>();
        int dropped = 0, acceptCount = 0, keptGroups = 0;
        var arms = new Dictionary<string, long>();
        var failures = new List<string>();
        int maxPrompt = _engine.SequenceCapacity - _options.Sampling.MaxNewTokens;
        for (int round = 0; round <= (_options.DynamicSampling ? _options.MaxRefillRounds : 0) && keptGroups < _options.PromptsPerStep; round++)
        {
            int need = _options.PromptsPerStep - keptGroups;
            var examples = _sampler.Next(need);   // the same prompts on every rank; each keeps its block of groups
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
            progress?.Report(new RlProgress(Step, "rollout", null));
            var clock = Stopwatch.StartNew();
            var engineProgress = progress is null ? null : new ForwardProgress(p => progress.Report(new RlProgress(Step, "rollout", p)));
            var result = requests.Count == 0 ? new RolloutResult([], new RolloutMetrics()) : _engine.Generate(requests, cancellationToken, engineProgress);
            timeline.AddRange(result.Metrics.Timeline.Select(p => p with { Seconds = rolloutSeconds + p.Seconds }));   // rounds follow each other
            rolloutSeconds += clock.Elapsed.TotalSeconds;
            Tlt?.RoundEnded(_communicator);   // a rank done early trains the drafter until every rank's round has ended
            foreach (var (k, v) in result.Metrics.ArmChoices) arms[k] = arms.GetValueOrDefault(k) + v;
            failures.AddRange(result.Metrics.DrafterFailures);
            tokens += result.Metrics.GeneratedTokens;
            canonical += result.Metrics.CanonicalDraws;
            if (result.Metrics.SpeculativeRowRounds > 0) { acceptSum += result.Metrics.AcceptLengthSum; acceptCount += (int)result.Metrics.SpeculativeRowRounds; }

            progress?.Report(new RlProgress(Step, "reward", null));
            clock.Restart();
            var decoded = result.Trajectories.Select(t => _tokenizer.Decode(t.ResponseTokens, skipSpecialTokens: true)).ToList();
            var inputs = result.Trajectories.Select((t, i) => new RewardInput(t.RequestId, examples[first + i / _options.GroupSize].Prompt, decoded[i],
                examples[first + i / _options.GroupSize].Answer)).ToList();
            var (totals, scores) = _rewards.Score(inputs);
            rewardSeconds += clock.Elapsed.TotalSeconds;

            int keptBefore = keptGroups, droppedBefore = dropped;
            for (int p = first; p < first + count; p++)
            {
                var members = Enumerable.Range((p - first) * _options.GroupSize, _options.GroupSize).ToArray();
                bool flat = members.All(i => totals[i] == totals[members[0]]);
                bool lastChance = round == (_options.DynamicSampling ? _options.MaxRefillRounds : 0);
                groupsScored++;
                if (flat) flatGroups++;
                if (_options.DynamicSampling && flat && _options.GroupSize > 1 && !(lastChance && keptGroups == 0 && p == examples.Count - 1))
                {
                    dropped++;
                    continue;
                }
                keptGroups++;
                foreach (var i in members)
                {
                    var t = result.Trajectories[i];
                    prompts.Add(t.PromptTokens);
                    responses.Add(t.ResponseTokens);
                    rewards.Add(totals[i]);
                    groups.Add(t.GroupId);
                    logProbs.Add(t.LogProbs);
                    texts.Add((decoded[i], examples[p].Answer));
                    stopped.Add(t.Finish == FinishReason.Stop);
                    scoreRows.Add(scores[i]);
                    acceptLengths.Add(t.VerifyRounds > 0 ? t.ResponseTokens.Length / (double)t.VerifyRounds : 1);
                    drafted |= t.DraftedTokens > 0;
                }
            }
            if (_communicator.Size > 1)
            {
                // Keep/drop decisions are per group; the counts that steer the refill are global.
                Span<int> counts = [keptGroups - keptBefore, dropped - droppedBefore];
                _communicator.AllReduce(counts);
                (keptGroups, dropped) = (keptBefore + counts[0], droppedBefore + counts[1]);
            }
        }
        var advantages = _options.Advantage.Compute(rewards, groups);
        var batch = new RlBatch(prompts, responses, rewards.ToArray(), advantages, groups.ToArray());
        var outcomes = new ResponseOutcomes(responses.Select(r => r.Length).ToArray(), stopped, _rewards.Names, scoreRows, groupsScored, flatGroups,
            drafted ? acceptLengths : null);
        return (new CollectedBatch(batch, logProbs, dropped, outcomes), new RolloutTotals(rolloutSeconds, rewardSeconds, tokens, acceptSum, acceptCount, arms, failures, canonical, timeline), texts);
    }

    private StepMetrics Metrics((double[] Rewards, int[] Lengths, int Accurate, RolloutTotals Totals, int Dropped, double Gap, ResponseOutcomes Outcomes) view,
        double oldSeconds, double updateSeconds, UpdateStats stats, double stepSeconds)
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
