// A reduced draft vocabulary (EAGLE-3's d2t idea): the EAGLE drafter scores only the N most frequent tokens of
// the rollouts instead of the target's whole vocabulary. Its head is the target's lm_head restricted to those rows
// (the drafter has no head of its own), so the drafter's cost per drafted token drops from H·V to H·N multiply-adds;
// with 152 k tokens and N = 16 k that is most of a draft step. Verification is untouched: a token outside the
// subset is simply never proposed (a draft distribution q is 0 there), so the output stays exact. Draft ids map back
// to target ids through ToTarget; coupled drafting draws each kept token with the noise of its target id.
namespace TltTrainer.Speculative;

/// <summary>The target token ids the EAGLE drafter may propose, in ascending order.</summary>
public sealed class DraftVocabulary
{
    private readonly int[] _toTarget;
    private readonly int[] _toDraft;          // target id → draft id, −1 when not kept

    /// <summary>Creates a vocabulary of the given target ids (distinct, each in [0, <paramref name="targetVocabulary"/>)).</summary>
    /// <exception cref="ArgumentException">An id is out of range or repeated, or none is given.</exception>
    public DraftVocabulary(IEnumerable<int> targetIds, int targetVocabulary)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(targetVocabulary, 1);
        _toTarget = targetIds.Order().ToArray();
        if (_toTarget.Length == 0) throw new ArgumentException("a draft vocabulary needs at least one token.", nameof(targetIds));
        _toDraft = Enumerable.Repeat(-1, targetVocabulary).ToArray();
        for (int d = 0; d < _toTarget.Length; d++)
        {
            int t = _toTarget[d];
            if (t < 0 || t >= targetVocabulary) throw new ArgumentException($"token id {t} is outside the target's vocabulary [0, {targetVocabulary}).", nameof(targetIds));
            if (_toDraft[t] >= 0) throw new ArgumentException($"token id {t} is listed twice.", nameof(targetIds));
            _toDraft[t] = d;
        }
        TargetVocabulary = targetVocabulary;
    }

    /// <summary>The <paramref name="size"/> most frequent ids of <paramref name="tokens"/> (ties: the lower id), plus <paramref name="always"/> (e.g. stop tokens).</summary>
    public static DraftVocabulary MostFrequent(IEnumerable<int> tokens, int size, int targetVocabulary, IEnumerable<int>? always = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        var counts = new long[targetVocabulary];
        foreach (var t in tokens)
        {
            if ((uint)t >= (uint)targetVocabulary) throw new ArgumentException($"token id {t} is outside the target's vocabulary [0, {targetVocabulary}).", nameof(tokens));
            counts[t]++;
        }
        var kept = new HashSet<int>(always ?? Array.Empty<int>());
        kept.UnionWith(Enumerable.Range(0, targetVocabulary).OrderByDescending(i => counts[i]).ThenBy(i => i).Take(size));
        return new DraftVocabulary(kept, targetVocabulary);
    }

    /// <summary>Number of draft tokens N.</summary>
    public int Size => _toTarget.Length;

    /// <summary>Size of the target's vocabulary.</summary>
    public int TargetVocabulary { get; }

    /// <summary>Target ids by draft id, ascending.</summary>
    public IReadOnlyList<int> TargetIds => _toTarget;

    /// <summary>The target id of draft id <paramref name="draftId"/>.</summary>
    public int ToTarget(int draftId) => _toTarget[draftId];

    /// <summary>The draft id of <paramref name="targetId"/>, or −1 when the drafter cannot propose it.</summary>
    public int ToDraft(int targetId) => (uint)targetId < (uint)_toDraft.Length ? _toDraft[targetId] : -1;
}
