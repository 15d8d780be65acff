namespace TltTrainer.Rl;

/// <summary>One step's rollout data after rewards and advantages: what the policy update consumes.</summary>
/// <param name="Prompts">Prompt tokens per sequence.</param>
/// <param name="Responses">Response tokens per sequence.</param>
/// <param name="Rewards">Total reward per sequence.</param>
/// <param name="Advantages">Advantage per sequence.</param>
/// <param name="GroupIds">Group (prompt) per sequence.</param>
public sealed record RlBatch(IReadOnlyList<int[]> Prompts, IReadOnlyList<int[]> Responses, double[] Rewards, double[] Advantages, long[] GroupIds)
{
    /// <summary>Number of sequences.</summary>
    public int Count => Responses.Count;

    /// <summary>(prompt, response) pairs of the given sequences, for <see cref="PolicyScorer"/>.</summary>
    public IReadOnlyList<(IReadOnlyList<int> Prompt, IReadOnlyList<int> Response)> Pairs(IEnumerable<int> indices) =>
        indices.Select(i => ((IReadOnlyList<int>)Prompts[i], (IReadOnlyList<int>)Responses[i])).ToList();
}
