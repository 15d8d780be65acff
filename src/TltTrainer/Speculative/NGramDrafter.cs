// A model-free drafter: the continuation that followed the latest earlier occurrence of the
// sequence's current suffix, looked up first in the sequence itself (prompt and response), then in
// its GRPO siblings, which share much text. Longest suffix first (MaxN down to MinN). For tree
// shapes, up to TopK distinct continuations from different matches are merged into a trie.
using TltTrainer.Rollout;

namespace TltTrainer.Speculative;

/// <summary>Settings of the n-gram drafter.</summary>
/// <param name="MaxN">Longest suffix to match. Default 4.</param>
/// <param name="MinN">Shortest suffix to match. Default 2.</param>
/// <param name="UseSiblings">Also search sibling sequences of the same group. Default true.</param>
public sealed record NGramDrafterOptions(int MaxN = 4, int MinN = 2, bool UseSiblings = true)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the field when invalid.</summary>
    public NGramDrafterOptions Validate()
    {
        if (MinN < 1) throw new ArgumentException($"MinN = {MinN} must be ≥ 1.");
        if (MaxN < MinN) throw new ArgumentException($"MaxN = {MaxN} must be ≥ MinN ({MinN}).");
        return this;
    }
}

/// <summary>Drafts by copying continuations of matching n-grams from the sequence and its siblings.</summary>
public sealed class NGramDrafter : IDrafter
{
    private readonly NGramDrafterOptions _options;

    /// <summary>Creates the drafter.</summary>
    public NGramDrafter(NGramDrafterOptions? options = null) => _options = (options ?? new NGramDrafterOptions()).Validate();

    /// <inheritdoc />
    public string Name => "ngram";

    /// <inheritdoc />
    public void Begin(int rows, int maxLength) { }

    /// <inheritdoc />
    public void ResetRow(int row) { }

    /// <inheritdoc />
    public void MoveRow(int from, int to) { }

    /// <inheritdoc />
    public void Observe(int row, int start, TorchSharp.torch.Tensor hidden) { }

    /// <inheritdoc />
    public void Dispose() { }

    /// <inheritdoc />
    public IReadOnlyList<DraftTree> Propose(DraftContext context)
    {
        var strategy = context.Strategy;
        int branches = strategy.Shape == DraftShape.Tree ? strategy.TopK : 1;
        int budget = strategy.Shape == DraftShape.Tree ? strategy.VerifyBudget - 1 : strategy.Depth;
        var trees = new DraftTree[context.Rows];
        for (int r = 0; r < context.Rows; r++)
        {
            int depth = Math.Min(strategy.Depth, context.MaxDraft[r]);
            var continuations = depth <= 0 ? new List<List<int>>()
                : FindContinuations(context.Tokens[r], _options.UseSiblings ? context.Siblings[r] : Array.Empty<IReadOnlyList<int>>(), depth, branches);
            trees[r] = BuildTrie(continuations, budget);
        }
        return trees;
    }

    /// <summary>Up to <paramref name="count"/> distinct continuations (each ≤ <paramref name="depth"/> tokens) of the sequence's suffix.</summary>
    internal List<List<int>> FindContinuations(IReadOnlyList<int> tokens, IReadOnlyList<IReadOnlyList<int>> siblings, int depth, int count)
    {
        var found = new List<List<int>>();
        for (int n = Math.Min(_options.MaxN, tokens.Count - 1); n >= _options.MinN && found.Count < count; n--)
        {
            // Own text: matches must end before the suffix itself.
            Collect(tokens, tokens, n, tokens.Count - 1, depth, count, found);
            foreach (var sibling in siblings)
            {
                if (found.Count >= count) break;
                Collect(sibling, tokens, n, sibling.Count - 1, depth, count, found);
            }
        }
        return found;
    }

    private static void Collect(IReadOnlyList<int> haystack, IReadOnlyList<int> tokens, int n, int lastEnd, int depth, int count, List<List<int>> found)
    {
        int suffixStart = tokens.Count - n;
        // Scan matches ending at e (inclusive), most recent first; the continuation starts at e + 1.
        for (int e = Math.Min(lastEnd, haystack.Count - 2); e >= n - 1 && found.Count < count; e--)
        {
            if (ReferenceEquals(haystack, tokens) && e == tokens.Count - 1) continue;
            bool match = true;
            for (int i = 0; i < n && match; i++) match = haystack[e - n + 1 + i] == tokens[suffixStart + i];
            if (!match) continue;
            int take = Math.Min(depth, haystack.Count - (e + 1));
            var continuation = new List<int>(take);
            for (int i = 0; i < take; i++) continuation.Add(haystack[e + 1 + i]);
            if (take > 0 && !found.Any(f => f.SequenceEqual(continuation))) found.Add(continuation);
        }
    }

    /// <summary>Merges continuations into a trie of at most <paramref name="budget"/> nodes, parents before children.</summary>
    internal static DraftTree BuildTrie(IReadOnlyList<List<int>> continuations, int budget)
    {
        var parents = new List<int>();
        var tokens = new List<int>();
        var index = new Dictionary<(int Parent, int Token), int>();
        foreach (var continuation in continuations)
        {
            int node = -1;
            foreach (var token in continuation)
            {
                if (index.TryGetValue((node, token), out var existing)) { node = existing; continue; }
                if (tokens.Count >= budget) break;
                parents.Add(node);
                tokens.Add(token);
                node = index[(node, token)] = tokens.Count - 1;
            }
        }
        return new DraftTree(parents.ToArray(), tokens.ToArray());
    }
}
