// A model-free drafter: copies the continuation that followed an earlier occurrence of the sequence's
// current suffix, in the sequence itself (prompt and response) or in its GRPO siblings, which share
// the prompt and often most of the response. Every occurrence of at least MinN matching tokens is a
// candidate; candidates are ranked by how far the match reaches back (up to MaxN tokens), so a sibling
// that wrote the same text for dozens of tokens beats a chance bigram; ties go to the sequence's own
// text, then to the most recent occurrence. A continuation is at most DraftPerMatchedToken × match
// length tokens long (the adaptive length of suffix-tree drafters): short, weak matches draft little,
// and a row without any match drafts nothing, so it costs no verification width. For tree shapes, up
// to TopK distinct continuations of the best matches are merged into a trie.

namespace TltTrainer.Speculative;

/// <summary>Settings of the n-gram drafter.</summary>
/// <param name="MaxN">Longest match length told apart when ranking matches (longer ones rank as equal). Default 32.</param>
/// <param name="MinN">Shortest suffix match that may propose. Default 2.</param>
/// <param name="UseSiblings">Also search sibling sequences of the same group. Default true.</param>
/// <param name="DraftPerMatchedToken">Most tokens drafted per matched token (a match of n tokens drafts at most
/// ⌈n × this⌉, and never more than the strategy's depth); <see cref="double.PositiveInfinity"/> always drafts the full depth. Default 1.</param>
public sealed record NGramDrafterOptions(int MaxN = 32, int MinN = 2, bool UseSiblings = true, double DraftPerMatchedToken = 1.0)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the field when invalid.</summary>
    public NGramDrafterOptions Validate()
    {
        if (MinN < 1) throw new ArgumentException($"MinN = {MinN} must be ≥ 1.");
        if (MaxN < MinN) throw new ArgumentException($"MaxN = {MaxN} must be ≥ MinN ({MinN}).");
        if (!(DraftPerMatchedToken > 0)) throw new ArgumentException($"DraftPerMatchedToken = {DraftPerMatchedToken} must be > 0.");
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
    public void ObserveStep(IReadOnlyList<int> positions, TorchSharp.torch.Tensor hidden) { }

    /// <inheritdoc />
    public void Dispose() { }

    /// <inheritdoc />
    public IReadOnlyList<DraftTree> Propose(DraftContext context)
    {
        var strategy = context.Strategy;
        int branches = strategy.Shape == DraftShape.Tree ? strategy.TopK : 1;
        int budget = Math.Min(strategy.Shape == DraftShape.Tree ? strategy.VerifyBudget - 1 : strategy.Depth, context.MaxNodes);
        var trees = new DraftTree[context.Rows];
        for (int r = 0; r < context.Rows; r++)
        {
            int depth = Math.Min(Math.Min(strategy.Depth, context.MaxDraft[r]), context.MaxNodes);
            var continuations = depth <= 0 ? new List<List<int>>()
                : FindContinuations(context.Tokens[r], _options.UseSiblings ? context.Siblings[r] : Array.Empty<IReadOnlyList<int>>(), depth, branches);
            trees[r] = BuildTrie(continuations, budget);
        }
        return trees;
    }

    /// <summary>
    /// Up to <paramref name="count"/> distinct continuations (each ≤ <paramref name="depth"/> tokens) of the sequence's suffix,
    /// best match first.
    /// </summary>
    internal List<List<int>> FindContinuations(IReadOnlyList<int> tokens, IReadOnlyList<IReadOnlyList<int>> siblings, int depth, int count)
    {
        // Candidates in tie-break order (own text first, each source most recent first); a stable sort by length keeps it.
        // A chain needs only the first longest match, so shorter and equal later ones are not kept.
        var candidates = new List<(IReadOnlyList<int> Source, int End, int Length)>();
        bool bestOnly = count == 1;
        Collect(tokens, tokens, tokens.Count - 2, candidates, bestOnly);           // own text: the match must end before the last token
        foreach (var sibling in siblings) Collect(sibling, tokens, sibling.Count - 2, candidates, bestOnly);
        var found = new List<List<int>>();
        foreach (var (source, end, length) in candidates.OrderByDescending(c => c.Length))
        {
            if (found.Count >= count) break;
            int take = Math.Min(Math.Min(depth, source.Count - (end + 1)), DraftLength(length));
            var continuation = new List<int>(take);
            for (int i = 0; i < take; i++) continuation.Add(source[end + 1 + i]);
            if (take > 0 && !found.Any(f => f.SequenceEqual(continuation))) found.Add(continuation);
        }
        return found;
    }

    private int DraftLength(int matched) =>
        double.IsPositiveInfinity(_options.DraftPerMatchedToken) ? int.MaxValue : (int)Math.Min(int.MaxValue, Math.Ceiling(matched * _options.DraftPerMatchedToken));

    /// <summary>Adds every occurrence in <paramref name="source"/> ending at or before <paramref name="lastEnd"/> whose match with the suffix of <paramref name="tokens"/> is ≥ MinN.</summary>
    private void Collect(IReadOnlyList<int> source, IReadOnlyList<int> tokens, int lastEnd, List<(IReadOnlyList<int> Source, int End, int Length)> candidates,
        bool bestOnly)
    {
        int last = tokens.Count - 1;
        for (int e = lastEnd; e >= _options.MinN - 1; e--)
        {
            // Match length: how many tokens before and at e equal the suffix of tokens (capped at MaxN).
            int length = 0;
            while (length < _options.MaxN && length <= e && length <= last && source[e - length] == tokens[last - length]) length++;
            if (length < _options.MinN || (bestOnly && candidates.Count > 0 && length <= candidates[^1].Length)) continue;
            candidates.Add((source, e, length));
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
