using TltTrainer.Sampling;
namespace TltTrainer.Speculative;

/// <summary>Which draft shape to use in a speculation round.</summary>
public enum DraftShape
{
    /// <summary>A chain of <see cref="SpecStrategy.Depth"/> tokens.</summary>
    Chain,

    /// <summary>An EAGLE-2 dynamic tree: top-k expansion to depth <see cref="SpecStrategy.Depth"/>, best <see cref="SpecStrategy.VerifyBudget"/> − 1 nodes kept.</summary>
    Tree,
}

/// <summary>How a drafter with a distribution q (the EAGLE drafter) picks the tokens it proposes for sampled requests.</summary>
/// <remarks>Greedy requests always get q's argmax; drafters without a distribution (n-gram) ignore this.</remarks>
public enum DraftProposal
{
    /// <summary>
    /// The Gumbel-max of q under the request's own sampling noise at the drafted position, the noise the target's token at
    /// that position is drawn with (<see cref="SamplingNoise"/>); verified by coupling. The output equals plain
    /// sampling token for token, and a draft is accepted with probability at least (1 − TV)/(1 + TV) where TV is the
    /// distance between p and q, close to rejection sampling's 1 − TV. The default.
    /// </summary>
    Coupled,

    /// <summary>q's most likely token; verified by coupling (output equals plain sampling). Accepted only when the target's
    /// own draw happens to be that token.</summary>
    Argmax,

    /// <summary>
    /// Chains only: tokens drawn from q with the request's random stream and verified by rejection sampling (accept with
    /// min(1, p/q)). The output has exactly the target's distribution, but its tokens depend on the drafter: a run's tokens
    /// then depend on the drafter's weights and the adaptive policy's choices (TLT on no longer equals TLT off, and a resumed
    /// run no longer equals the uninterrupted one). Opt in only when acceptance matters more than reproducibility.
    /// </summary>
    Rejection,
}

/// <summary>Draft shape of a speculation round.</summary>
/// <param name="Shape">Chain or tree.</param>
/// <param name="Depth">Draft depth (tokens along the longest path).</param>
/// <param name="TopK">Branching of the tree expansion (trees only).</param>
/// <param name="VerifyBudget">Tokens per sequence in the verification forward, root included (trees only).</param>
/// <param name="Proposal">How sampled requests' drafts are picked (see <see cref="DraftProposal"/>). Default coupled.</param>
public sealed record SpecStrategy(DraftShape Shape, int Depth, int TopK = 1, int VerifyBudget = 0, DraftProposal Proposal = DraftProposal.Coupled)
{
    /// <summary>A chain of depth <paramref name="depth"/>.</summary>
    public static SpecStrategy ChainOf(int depth, DraftProposal proposal = DraftProposal.Coupled) =>
        new SpecStrategy(DraftShape.Chain, depth, 1, depth + 1, proposal).Validate();

    /// <summary>A chain of depth <paramref name="depth"/>: <paramref name="sample"/> true is <see cref="DraftProposal.Rejection"/>, false <see cref="DraftProposal.Argmax"/>.</summary>
    public static SpecStrategy ChainOf(int depth, bool sample) => ChainOf(depth, sample ? DraftProposal.Rejection : DraftProposal.Argmax);

    /// <summary>A dynamic tree; a node's children are the top-k of q (<see cref="DraftProposal.Argmax"/>) or of q perturbed by the noise of their position (<see cref="DraftProposal.Coupled"/>).</summary>
    public static SpecStrategy TreeOf(int depth, int topK, int verifyBudget, DraftProposal proposal = DraftProposal.Coupled) =>
        new SpecStrategy(DraftShape.Tree, depth, topK, verifyBudget, proposal).Validate();

    /// <summary>Throws <see cref="ArgumentException"/> naming the field when invalid.</summary>
    public SpecStrategy Validate()
    {
        if (Depth < 1) throw new ArgumentException($"Depth = {Depth} must be ≥ 1.");
        if (Shape == DraftShape.Tree && TopK < 1) throw new ArgumentException($"TopK = {TopK} must be ≥ 1.");
        if (Shape == DraftShape.Tree && VerifyBudget < 2) throw new ArgumentException($"VerifyBudget = {VerifyBudget} must be ≥ 2 (root + one node).");
        if (Shape == DraftShape.Tree && Proposal == DraftProposal.Rejection)
            throw new ArgumentException("Proposal = Rejection applies to chains only (trees are verified by coupling or children-first).");
        if (!Enum.IsDefined(Proposal)) throw new ArgumentException($"Proposal = {Proposal} is not a DraftProposal.");
        return this;
    }

    /// <summary>Short label, e.g. <c>chain-d5</c>, <c>chain-d5-argmax</c> or <c>tree-d6k4b32</c> (the proposal is named unless coupled).</summary>
    public override string ToString() => (Shape == DraftShape.Chain ? $"chain-d{Depth}" : $"tree-d{Depth}k{TopK}b{VerifyBudget}")
        + (Proposal == DraftProposal.Coupled ? "" : $"-{Proposal.ToString().ToLowerInvariant()}");
}
