// A draft for one sequence: nodes in topological order (every parent before its children), each a
// token with its parent (−1 = the root, which is the last token already sampled from the target).
// A chain is a tree whose node i has parent i − 1. Nodes drafted by sampling carry the distribution q
// they were drawn from (rejection sampling needs it); deterministic drafts (top-k trees, n-grams) do not.
namespace TltTrainer.Speculative;

/// <summary>Drafted tokens for one sequence, as a tree rooted at the last sampled token.</summary>
public sealed class DraftTree
{
    /// <summary>Creates a tree; validates that parents precede children and siblings are distinct.</summary>
    /// <param name="parents">Parent node index per node; −1 for children of the root.</param>
    /// <param name="tokens">Drafted token per node.</param>
    /// <param name="draftProbs">Per node, the distribution its token was sampled from (chains only), or null for deterministic drafts.</param>
    public DraftTree(int[] parents, int[] tokens, double[][]? draftProbs = null)
    {
        if (parents.Length != tokens.Length) throw new ArgumentException("parents and tokens differ in length.");
        if (draftProbs is not null && draftProbs.Length != tokens.Length) throw new ArgumentException("draftProbs must have one distribution per node.");
        var seen = new HashSet<(int, int)>();
        for (int i = 0; i < parents.Length; i++)
        {
            if (parents[i] < -1 || parents[i] >= i) throw new ArgumentException($"node {i}: parent {parents[i]} must be −1 or an earlier node.");
            if (draftProbs is null && !seen.Add((parents[i], tokens[i])))
                throw new ArgumentException($"node {i}: token {tokens[i]} repeats a sibling; deterministic drafts need distinct siblings.");
        }
        if (draftProbs is not null && parents.Where((p, i) => p != i - 1).Any())
            throw new ArgumentException("sampled drafts (with draftProbs) must be chains.");
        Parents = parents;
        Tokens = tokens;
        DraftProbs = draftProbs;
        Depths = new int[parents.Length];
        for (int i = 0; i < parents.Length; i++) Depths[i] = parents[i] < 0 ? 1 : Depths[parents[i]] + 1;
    }

    /// <summary>An empty draft (plain decoding for this sequence).</summary>
    public static DraftTree Empty { get; } = new(Array.Empty<int>(), Array.Empty<int>());

    /// <summary>A deterministic chain of tokens.</summary>
    public static DraftTree Chain(IReadOnlyList<int> tokens) =>
        new(Enumerable.Range(-1, tokens.Count).ToArray(), tokens.ToArray());

    /// <summary>Parent per node (−1 = root).</summary>
    public int[] Parents { get; }

    /// <summary>Token per node.</summary>
    public int[] Tokens { get; }

    /// <summary>Depth per node (children of the root have depth 1).</summary>
    public int[] Depths { get; }

    /// <summary>Sampling distributions of chain nodes, or null for deterministic drafts.</summary>
    public double[][]? DraftProbs { get; }

    /// <summary>Number of drafted nodes.</summary>
    public int Count => Tokens.Length;

    /// <summary>
    /// The first nodes of this tree (in topological order) up to depth <paramref name="maxDepth"/>, at most
    /// <paramref name="maxNodes"/> of them; this tree itself when it is within both limits. A prefix of the nodes in
    /// topological order whose depth is bounded is closed under parents, so the result is again a valid tree.
    /// </summary>
    /// <param name="maxNodes">Most nodes kept (≤ 0: none).</param>
    /// <param name="maxDepth">Deepest depth kept (≤ 0: none).</param>
    public DraftTree Truncate(int maxNodes, int maxDepth)
    {
        if (Count <= maxNodes && (Count == 0 || Depths.Max() <= maxDepth)) return this;
        if (maxNodes <= 0 || maxDepth <= 0) return Empty;
        var kept = Enumerable.Range(0, Count).Where(i => Depths[i] <= maxDepth).Take(maxNodes).ToArray();
        var newIndex = new int[Count];
        for (int i = 0; i < kept.Length; i++) newIndex[kept[i]] = i;
        return new DraftTree(kept.Select(i => Parents[i] < 0 ? -1 : newIndex[Parents[i]]).ToArray(),
            kept.Select(i => Tokens[i]).ToArray(), DraftProbs is null ? null : kept.Select(i => DraftProbs[i]).ToArray());
    }

    /// <summary>Children of <paramref name="node"/> (−1 = root) in drafting order.</summary>
    public IEnumerable<int> Children(int node)
    {
        for (int i = 0; i < Parents.Length; i++) if (Parents[i] == node) yield return i;
    }
}
