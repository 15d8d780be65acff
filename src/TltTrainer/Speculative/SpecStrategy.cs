namespace TltTrainer.Speculative;

/// <summary>Which draft shape to use in a speculation round.</summary>
public enum DraftShape
{
    /// <summary>A chain of <see cref="SpecStrategy.Depth"/> tokens.</summary>
    Chain,

    /// <summary>An EAGLE-2 dynamic tree: top-k expansion to depth <see cref="SpecStrategy.Depth"/>, best <see cref="SpecStrategy.VerifyBudget"/> − 1 nodes kept.</summary>
    Tree,
}

/// <summary>Draft shape of a speculation round.</summary>
/// <param name="Shape">Chain or tree.</param>
/// <param name="Depth">Draft depth (tokens along the longest path).</param>
/// <param name="TopK">Branching of the tree expansion (trees only).</param>
/// <param name="VerifyBudget">Tokens per sequence in the verification forward, root included (trees only).</param>
/// <param name="SampleChain">For chains at temperature &gt; 0: false (default) drafts the drafter's argmax and verifies by coupling, so
/// the output equals plain sampling for the same seed token for token; true draws the drafted tokens from the drafter's
/// distribution and verifies by rejection sampling, which accepts more but makes the tokens depend on the drafter (the output
/// still has the target's distribution, but a run's tokens then depend on the drafter's weights and the adaptive policy's
/// choices: TLT on no longer equals TLT off, and a resumed run no longer equals the uninterrupted one).</param>
public sealed record SpecStrategy(DraftShape Shape, int Depth, int TopK = 1, int VerifyBudget = 0, bool SampleChain = false)
{
    /// <summary>A chain of depth <paramref name="depth"/>; <paramref name="sample"/>: see <see cref="SampleChain"/> (it trades reproducibility for acceptance).</summary>
    public static SpecStrategy ChainOf(int depth, bool sample = false) => new SpecStrategy(DraftShape.Chain, depth, 1, depth + 1, sample).Validate();

    /// <summary>A dynamic tree.</summary>
    public static SpecStrategy TreeOf(int depth, int topK, int verifyBudget) => new SpecStrategy(DraftShape.Tree, depth, topK, verifyBudget).Validate();

    /// <summary>Throws <see cref="ArgumentException"/> naming the field when invalid.</summary>
    public SpecStrategy Validate()
    {
        if (Depth < 1) throw new ArgumentException($"Depth = {Depth} must be ≥ 1.");
        if (Shape == DraftShape.Tree && TopK < 1) throw new ArgumentException($"TopK = {TopK} must be ≥ 1.");
        if (Shape == DraftShape.Tree && VerifyBudget < 2) throw new ArgumentException($"VerifyBudget = {VerifyBudget} must be ≥ 2 (root + one node).");
        return this;
    }

    /// <summary>Short label, e.g. <c>chain-d5</c> or <c>tree-d6k4b32</c>.</summary>
    public override string ToString() => Shape == DraftShape.Chain ? $"chain-d{Depth}" : $"tree-d{Depth}k{TopK}b{VerifyBudget}";
}
