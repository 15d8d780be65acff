// How right-padded rows are grouped into forwards: the RL update's micro-batches and the rollout's
// prefill chunks. Rows are padded to the longest of their group, and lengths are long-tailed (a median
// of tens of tokens next to a few hundred-token ones). Cutting the length-sorted list greedily at a token
// budget puts the longest rows with as many short ones as the budget allows, all padded to the longest:
// with four 420-token rows among sixty 60-token ones, half of the update's compute was padding. So the
// cut is planned: over the length-sorted list (where an optimal grouping is contiguous), a dynamic program
// picks the groups that minimise padded tokens plus a fixed cost per forward, under the sequence cap and
// the budget. In the update the loss denominators are batch-wide (LossAggregator), so the cut never
// changes the gradient, only the cost; the plan is deterministic, so resumed runs cut exactly as
// uninterrupted ones.
namespace TltTrainer.Rollout;

/// <summary>Plans length-sorted groups (micro-batches, prefill chunks) under a sequence cap and a padded-token budget.</summary>
public static class MicroBatchPlan
{
    /// <summary>
    /// A micro-batch's fixed cost in padded-token equivalents (the per-forward work that does not scale with tokens): a
    /// group is split only where that saves more padding than this.
    /// </summary>
    public const int DefaultOverheadTokens = 64;

    /// <summary>Cuts <paramref name="indices"/> into micro-batches, longest first, with the fewest padded tokens.</summary>
    /// <param name="indices">Sequence indices of the mini-batch.</param>
    /// <param name="lengthOf">Length (prompt + response tokens) of a sequence.</param>
    /// <param name="maxSequences">At most this many sequences per micro-batch (≥ 1).</param>
    /// <param name="maxPaddedTokens">At most this many padded tokens (sequences × longest) per micro-batch; 0 = no budget. A single longer sequence still gets its own micro-batch.</param>
    /// <param name="overheadTokens">Fixed cost of a micro-batch in padded tokens (≥ 0); see <see cref="DefaultOverheadTokens"/>.</param>
    /// <returns>Micro-batches minimising padded tokens + <paramref name="overheadTokens"/> × micro-batches; every index appears exactly once.</returns>
    public static IReadOnlyList<int[]> Plan(IReadOnlyList<int> indices, Func<int, int> lengthOf, int maxSequences, int maxPaddedTokens,
        int overheadTokens = DefaultOverheadTokens)
    {
        if (maxSequences < 1) throw new ArgumentOutOfRangeException(nameof(maxSequences), maxSequences, "must be ≥ 1.");
        if (maxPaddedTokens < 0) throw new ArgumentOutOfRangeException(nameof(maxPaddedTokens), maxPaddedTokens, "must be ≥ 0 (0 = no budget).");
        if (overheadTokens < 0) throw new ArgumentOutOfRangeException(nameof(overheadTokens), overheadTokens, "must be ≥ 0.");
        var sorted = indices.OrderByDescending(lengthOf).ThenBy(i => i).ToArray();
        int n = sorted.Length;
        var lengths = sorted.Select(lengthOf).ToArray();
        // cost[j]: least cost of the first j sorted rows; start[j]: where the last group of that plan starts.
        var cost = new long[n + 1];
        var start = new int[n + 1];
        for (int j = 1; j <= n; j++)
        {
            cost[j] = long.MaxValue;
            // The group [i, j) is padded to lengths[i] (the list is sorted); widen it while cap and budget allow.
            for (int i = j - 1; i >= 0 && j - i <= maxSequences; i--)
            {
                long padded = (long)(j - i) * lengths[i];
                if (j - i > 1 && maxPaddedTokens > 0 && padded > maxPaddedTokens) break;   // wider groups only pad more
                long candidate = cost[i] + padded + overheadTokens;
                if (candidate < cost[j]) (cost[j], start[j]) = (candidate, i);
            }
        }
        var plan = new List<int[]>();
        for (int j = n; j > 0; j = start[j]) plan.Add(sorted[start[j]..j]);
        plan.Reverse();
        return plan;
    }
}
