// What the rollout half of an RL step gathers, round by round (dynamic sampling may refill): the kept
// groups' sequences and what the metrics need of them, and the rollout's totals. One typed accumulator
// instead of a dozen parallel lists and counters, so CollectRollouts reads as its phases.
using TltTrainer.Rollout;
using TltTrainer.Telemetry;

namespace TltTrainer.Rl;

/// <summary>A response's text and the answer it is checked against (for the accuracy metric).</summary>
internal sealed record ResponseText(string Response, string? Answer);

/// <summary>The step's data plus what the metrics need.</summary>
internal sealed record CollectedBatch(RlBatch Batch, IReadOnlyList<float[]> RolloutLogProbs, int GroupsDropped, ResponseOutcomes Outcomes);

/// <summary>The rollout's totals over a step's rounds.</summary>
internal sealed record RolloutTotals(double RolloutSeconds, double RewardSeconds, long Tokens, double AcceptSum, int AcceptCount,
    Dictionary<string, long> ArmChoices, List<string> DrafterFailures, long CanonicalDraws, List<TimelinePoint> Timeline);

/// <summary>Everything the rollout half of a step hands to the rest of it.</summary>
internal sealed record CollectedStep(CollectedBatch Batch, RolloutTotals Totals, IReadOnlyList<ResponseText> Texts);

/// <summary>A step's per-sequence values and rollout totals over every rank, for its metrics.</summary>
internal sealed record StepView(double[] Rewards, int[] Lengths, int Accurate, RolloutTotals Totals, int Dropped, double Gap, ResponseOutcomes Outcomes);

/// <summary>One round of a step: the prompts drawn, this rank's block of them and the requests made from that block.</summary>
internal sealed record RolloutRound(int Index, IReadOnlyList<PromptExample> Examples, int First, int Count, IReadOnlyList<RolloutRequest> Requests);

/// <summary>A round's rewards: per response the total and each reward function's score, and the decoded texts.</summary>
internal sealed record RoundScores(IReadOnlyList<double> Totals, IReadOnlyList<double[]> Scores, IReadOnlyList<string> Texts);

/// <summary>Accumulates a step's kept groups and rollout totals over its rounds.</summary>
internal sealed class StepCollector
{
    private readonly List<int[]> _prompts = new(), _responses = new();
    private readonly List<double> _rewards = new(), _acceptLengths = new();
    private readonly List<long> _groups = new();
    private readonly List<float[]> _logProbs = new();
    private readonly List<ResponseText> _texts = new();
    private readonly List<bool> _stopped = new();
    private readonly List<double[]> _scoreRows = new();
    private readonly Dictionary<string, long> _arms = new();
    private readonly List<string> _failures = new();
    private readonly List<TimelinePoint> _timeline = new();
    private bool _drafted;
    private double _rolloutSeconds, _rewardSeconds, _acceptSum;
    private long _tokens, _canonical;
    private int _acceptCount;

    /// <summary>Groups kept for the update so far (global once <see cref="ShareCounts"/> ran).</summary>
    public int KeptGroups { get; private set; }

    /// <summary>Groups dropped by dynamic sampling so far (global once <see cref="ShareCounts"/> ran).</summary>
    public int DroppedGroups { get; private set; }

    /// <summary>Groups scored (this rank's).</summary>
    public int ScoredGroups { get; private set; }

    /// <summary>Scored groups whose rewards were all equal (this rank's).</summary>
    public int FlatGroups { get; private set; }

    /// <summary>Adds a round's generation: its timeline follows the previous rounds'.</summary>
    public void AddGeneration(RolloutMetrics metrics, double seconds)
    {
        _timeline.AddRange(metrics.Timeline.Select(p => p with { Seconds = _rolloutSeconds + p.Seconds }));
        _rolloutSeconds += seconds;
        foreach (var (arm, count) in metrics.ArmChoices) _arms[arm] = _arms.GetValueOrDefault(arm) + count;
        _failures.AddRange(metrics.DrafterFailures);
        _tokens += metrics.GeneratedTokens;
        _canonical += metrics.CanonicalDraws;
        if (metrics.SpeculativeRowRounds > 0)
        {
            _acceptSum += metrics.AcceptLengthSum;
            _acceptCount += (int)metrics.SpeculativeRowRounds;
        }
    }

    /// <summary>Adds the seconds spent computing a round's rewards.</summary>
    public void AddRewardSeconds(double seconds) => _rewardSeconds += seconds;

    /// <summary>Counts a scored group (flat: all its rewards equal).</summary>
    public void CountScored(bool flat)
    {
        ScoredGroups++;
        if (flat) FlatGroups++;
    }

    /// <summary>Counts a group dropped by dynamic sampling.</summary>
    public void Drop() => DroppedGroups++;

    /// <summary>Keeps a group: its members' trajectories, rewards and texts.</summary>
    public void Keep(IReadOnlyList<Trajectory> members, IEnumerable<int> indices, RoundScores scores, string? answer)
    {
        KeptGroups++;
        foreach (var i in indices)
        {
            var t = members[i];
            _prompts.Add(t.PromptTokens);
            _responses.Add(t.ResponseTokens);
            _rewards.Add(scores.Totals[i]);
            _groups.Add(t.GroupId);
            _logProbs.Add(t.LogProbs);
            _texts.Add(new ResponseText(scores.Texts[i], answer));
            _stopped.Add(t.Finish == FinishReason.Stop);
            _scoreRows.Add(scores.Scores[i]);
            _acceptLengths.Add(t.VerifyRounds > 0 ? t.ResponseTokens.Length / (double)t.VerifyRounds : 1);
            _drafted |= t.DraftedTokens > 0;
        }
    }

    /// <summary>Replaces the kept and dropped counts by their global values (data-parallel: the refill is steered by them).</summary>
    public void ShareCounts(int keptBefore, int droppedBefore, Func<int, int, (int Kept, int Dropped)> sumOverRanks)
    {
        var (kept, dropped) = sumOverRanks(KeptGroups - keptBefore, DroppedGroups - droppedBefore);
        (KeptGroups, DroppedGroups) = (keptBefore + kept, droppedBefore + dropped);
    }

    /// <summary>The step's batch (advantages computed over the kept groups) and totals.</summary>
    public CollectedStep Build(IAdvantageEstimator advantage, IReadOnlyList<string> rewardNames)
    {
        var advantages = advantage.Compute(_rewards, _groups);
        var batch = new RlBatch(_prompts, _responses, _rewards.ToArray(), advantages, _groups.ToArray());
        var outcomes = new ResponseOutcomes(_responses.Select(r => r.Length).ToArray(), _stopped, rewardNames, _scoreRows, ScoredGroups, FlatGroups,
            _drafted ? _acceptLengths : null);
        var totals = new RolloutTotals(_rolloutSeconds, _rewardSeconds, _tokens, _acceptSum, _acceptCount, _arms, _failures, _canonical, _timeline);
        return new CollectedStep(new CollectedBatch(batch, _logProbs, DroppedGroups, outcomes), totals, _texts);
    }
}
