// How right-padded rows are grouped into forwards: the RL update's micro-batches and the rollout's
// prefill chunks. Rows are padded to the longest of their group, and lengths are long-tailed (a median
// of tens of tokens next to a few hundred-token ones), so grouping in arrival order makes most of the
// compute padding. Sorting by length first and closing a group when its padded size would exceed a token
// budget keeps the padding small. In the update the loss denominators are batch-wide (LossAggregator),
// so the cut never changes the gradient, only the cost; the plan is deterministic, so resumed runs cut
// exactly as uninterrupted ones.
namespace TltTrainer.Rollout;

/// <summary>Plans length-sorted groups (micro-batches, prefill chunks) under a sequence cap and a padded-token budget.</summary>
public static class MicroBatchPlan
{
    /// <summary>Cuts <paramref name="indices"/> into micro-batches, longest first.</summary>
    /// <param name="indices">Sequence indices of the mini-batch.</param>
    /// <param name="lengthOf">Length (prompt + response tokens) of a sequence.</param>
    /// <param name="maxSequences">At most this many sequences per micro-batch (≥ 1).</param>
    /// <param name="maxPaddedTokens">At most this many padded tokens (sequences × longest) per micro-batch; 0 = no budget. A single longer sequence still gets its own micro-batch.</param>
    /// <returns>Micro-batches; every index appears exactly once.</returns>
    public static IReadOnlyList<int[]> Plan(IReadOnlyList<int> indices, Func<int, int> lengthOf, int maxSequences, int maxPaddedTokens)
    {
        if (maxSequences < 1) throw new ArgumentOutOfRangeException(nameof(maxSequences), maxSequences, "must be ≥ 1.");
        if (maxPaddedTokens < 0) throw new ArgumentOutOfRangeException(nameof(maxPaddedTokens), maxPaddedTokens, "must be ≥ 0 (0 = no budget).");
        var sorted = indices.OrderByDescending(lengthOf).ThenBy(i => i).ToArray();
        var plan = new List<int[]>();
        var current = new List<int>();
        int longest = 0;
        foreach (var i in sorted)
        {
            bool overBudget = maxPaddedTokens > 0 && (current.Count + 1L) * Math.Max(longest, lengthOf(i)) > maxPaddedTokens;
            if (current.Count > 0 && (current.Count == maxSequences || overBudget))
            {
                plan.Add(current.ToArray());
                current.Clear();
            }
            if (current.Count == 0) longest = lengthOf(i);
            current.Add(i);
        }
        if (current.Count > 0) plan.Add(current.ToArray());
        return plan;
    }
}
