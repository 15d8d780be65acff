// The response- and reward-shape metrics of a step, computed from plain per-response facts so that the
// trainer (one process or gathered over MPI ranks) and the tests feed them the same way:
//   response/clipped_ratio        responses that hit the length limit / all responses
//   response/len_terminated_mean  mean length of the responses that ended with a stop token (null if none)
//   reward/zero_std_groups        groups whose rewards are all equal / all groups
//   reward/NAME/mean              mean unweighted score of each reward function
//   rollout/accept_lens           each response's tokens per target forward (for the accepted-length
//                                 histogram), only when some response was drafted for
// Shares are counts over counts of the same population, so they lie in [0, 1].
namespace TltTrainer.Telemetry;

/// <summary>What the response metrics of one step are computed from.</summary>
/// <param name="Lengths">Each response's length in tokens.</param>
/// <param name="Stopped">Per response: it ended with a stop token (false: cut at the response budget or the context).</param>
/// <param name="RewardNames">The reward functions' names, in the order of <paramref name="RewardScores"/>' columns.</param>
/// <param name="RewardScores">Per response, each function's unweighted score.</param>
/// <param name="Groups">Prompt groups scored this step.</param>
/// <param name="FlatGroups">Of those, groups whose rewards are all equal.</param>
/// <param name="AcceptLengths">Per response, its tokens per target forward (1 when decoded plainly), or null when nothing was drafted.</param>
internal sealed record ResponseOutcomes(IReadOnlyList<int> Lengths, IReadOnlyList<bool> Stopped, IReadOnlyList<string> RewardNames,
    IReadOnlyList<double[]> RewardScores, int Groups, int FlatGroups, IReadOnlyList<double>? AcceptLengths = null);

/// <summary>Computes the response and reward-shape metrics of a step.</summary>
internal static class ResponseStatistics
{
    /// <summary>Whether every reward of a group is the same (the group carries no advantage signal).</summary>
    public static bool IsFlat(IEnumerable<double> groupRewards)
    {
        using var e = groupRewards.GetEnumerator();
        if (!e.MoveNext()) return true;
        double first = e.Current;
        while (e.MoveNext())
            if (e.Current != first) return false;
        return true;
    }

    /// <summary><paramref name="metrics"/> with the response and reward-shape metrics of <paramref name="outcomes"/> filled in.</summary>
    /// <exception cref="ArgumentException">The per-response lists differ in length, or a score row has the wrong width.</exception>
    public static StepMetrics Apply(StepMetrics metrics, ResponseOutcomes outcomes)
    {
        int n = outcomes.Lengths.Count;
        if (outcomes.Stopped.Count != n || outcomes.RewardScores.Count != n)
            throw new ArgumentException($"{n} lengths, {outcomes.Stopped.Count} stop flags and {outcomes.RewardScores.Count} score rows: one each per response.");
        if (outcomes.FlatGroups < 0 || outcomes.FlatGroups > outcomes.Groups)
            throw new ArgumentException($"{outcomes.FlatGroups} flat groups of {outcomes.Groups}.");
        int stopped = 0;
        long stoppedLength = 0;
        for (int i = 0; i < n; i++)
        {
            if (!outcomes.Stopped[i]) continue;
            stopped++;
            stoppedLength += outcomes.Lengths[i];
        }
        var means = new Dictionary<string, double>();
        for (int f = 0; f < outcomes.RewardNames.Count && n > 0; f++)
        {
            double sum = 0;
            foreach (var row in outcomes.RewardScores)
                sum += row.Length == outcomes.RewardNames.Count ? row[f]
                    : throw new ArgumentException($"a score row has {row.Length} values for {outcomes.RewardNames.Count} reward functions.");
            string name = outcomes.RewardNames[f];
            means[means.ContainsKey(name) ? $"{name}_{f}" : name] = sum / n;   // two functions of one name stay apart
        }
        return metrics with
        {
            ClippedRatio = n == 0 ? 0 : (n - stopped) / (double)n,
            TerminatedLengthMean = stopped == 0 ? null : stoppedLength / (double)stopped,
            ZeroStdGroups = outcomes.Groups == 0 ? 0 : outcomes.FlatGroups / (double)outcomes.Groups,
            RewardFunctionMeans = means.Count == 0 ? null : means,
            AcceptLengths = outcomes.AcceptLengths,
        };
    }
}
