// Accepted length by where in the response a speculation round starts. Drafters are reported to lose
// acceptance deep into long responses, which is where the long tail spends its time, and the engine's
// mean hides it. This decorator wraps any drafter: at each Propose it notes, per row that got a draft,
// the response position of the round (tokens the response already has); the engine's next Observe of
// that row reports how many positions the round kept (accepted drafts + the target's own token), which
// is the round's accepted length. A round cut short by a stop token or the length limit counts the
// tokens it emitted, and a draft the engine cut to nothing at a row's last token counts as one token
// (the engine's own mean leaves both out; they are at most one round per response). Everything else
// goes straight to the wrapped drafter.

namespace TltTrainer.Speculative;

/// <summary>Speculation rounds that started in a range of response positions.</summary>
/// <param name="From">First response position of the range (tokens already in the response when the round started).</param>
/// <param name="To">End of the range (exclusive), or null for no end.</param>
/// <param name="Rounds">Rounds that drafted at least one token for a row in this range.</param>
/// <param name="TokensPerRound">Their mean accepted length (tokens per target forward), or NaN without rounds.</param>
public sealed record PositionBucket(int From, int? To, long Rounds, double TokensPerRound)
{
    /// <summary>Label such as <c>0-64</c> or <c>256+</c>.</summary>
    public string Name => To is { } to ? $"{From}-{to}" : $"{From}+";
}

/// <summary>Wraps a drafter and measures the accepted length of its rounds by response position.</summary>
public sealed class AcceptanceByPosition : IDrafter
{
    private readonly IDrafter _inner;
    private readonly int[] _bounds;
    private readonly long[] _rounds, _tokens;
    private int[] _pendingBucket = Array.Empty<int>();   // per row: bucket of the round just proposed, or -1
    private int[] _pendingStart = Array.Empty<int>();    // per row: cached length when it was proposed

    /// <summary>Wraps <paramref name="inner"/> (not owned) with buckets split at <paramref name="bounds"/> (ascending, e.g. 64 and 256).</summary>
    public AcceptanceByPosition(IDrafter inner, IReadOnlyList<int> bounds)
    {
        if (bounds.Count == 0 || bounds[0] <= 0 || bounds.Zip(bounds.Skip(1)).Any(p => p.First >= p.Second))
            throw new ArgumentException("bounds must be a non-empty ascending list of positive positions.", nameof(bounds));
        _inner = inner;
        _bounds = bounds.ToArray();
        _rounds = new long[_bounds.Length + 1];
        _tokens = new long[_bounds.Length + 1];
    }

    /// <summary>The buckets measured so far, in position order.</summary>
    public IReadOnlyList<PositionBucket> Buckets() => Enumerable.Range(0, _rounds.Length).Select(b => new PositionBucket(
        b == 0 ? 0 : _bounds[b - 1], b < _bounds.Length ? _bounds[b] : null, _rounds[b],
        _rounds[b] == 0 ? double.NaN : _tokens[b] / (double)_rounds[b])).ToList();

    /// <inheritdoc />
    public string Name => _inner.Name;

    /// <inheritdoc />
    public void Begin(int rows, int maxLength)
    {
        _inner.Begin(rows, maxLength);
        _pendingBucket = Enumerable.Repeat(-1, rows).ToArray();
        _pendingStart = new int[rows];
    }

    /// <inheritdoc />
    public void ResetRow(int row)
    {
        _pendingBucket[row] = -1;
        _inner.ResetRow(row);
    }

    /// <inheritdoc />
    public void MoveRow(int from, int to)
    {
        (_pendingBucket[to], _pendingStart[to]) = (_pendingBucket[from], _pendingStart[from]);
        _pendingBucket[from] = -1;
        _inner.MoveRow(from, to);
    }

    /// <inheritdoc />
    public void Observe(int row, int start, TorchSharp.torch.Tensor hidden)
    {
        if (_pendingBucket[row] >= 0 && start == _pendingStart[row])
        {
            _rounds[_pendingBucket[row]]++;
            _tokens[_pendingBucket[row]] += hidden.shape[0];
        }
        _pendingBucket[row] = -1;
        _inner.Observe(row, start, hidden);
    }

    /// <inheritdoc />
    public void ObserveStep(IReadOnlyList<int> positions, TorchSharp.torch.Tensor hidden)
    {
        Array.Fill(_pendingBucket, -1);                // a plain step: the proposed drafts were all empty
        _inner.ObserveStep(positions, hidden);
    }

    /// <inheritdoc />
    public IReadOnlyList<DraftTree> Propose(DraftContext context)
    {
        var trees = _inner.Propose(context);
        for (int r = 0; r < context.Rows; r++)
        {
            _pendingBucket[r] = trees[r].Count == 0 ? -1 : Bucket(context.Tokens[r].Count - 1 - context.PromptLengths[r]);
            _pendingStart[r] = context.Tokens[r].Count - 1;
        }
        return trees;
    }

    private int Bucket(int position)
    {
        for (int b = 0; b < _bounds.Length; b++) if (position < _bounds[b]) return b;
        return _bounds.Length;
    }

    /// <inheritdoc />
    public void Dispose() { }                          // the wrapped drafter belongs to the caller
}
