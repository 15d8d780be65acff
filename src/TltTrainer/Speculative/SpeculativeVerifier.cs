// Exact verification of one sequence's draft against the target. Pure: distributions in, decision out.
//
// Greedy and coupled (the default for deterministic drafts): draw the target's token exactly as plain
// decoding would (greedy: the argmax; sampled: the Gumbel-max under the request's noise at the node's
// position) and accept the child that equals it; if none does, emit it. P(child c) = p(c), and because the
// noise of a position is the same whoever asks for it, speculative output equals plain output token for
// token for the same seed. A draw too close to a decision for the verification forward's rounding is redone
// on the canonical path, as plain decoding redoes it (TokenDistribution), so the equality holds whatever the
// draft shape.
//
// Sampled chain with draft distributions q (classic speculative sampling): accept drafted x with
// probability min(1, p(x)/q(x)); on rejection draw from normalise(max(0, p − q)). The emitted token
// then has exactly distribution p: P(x) = q(x)·min(1, p/q) + (1 − Σ min(p, q))·max(0, p − q)(x)/Σ max(0, p − q) = p(x).
// Its tokens depend on the drafter (only their distribution is p's).
//
// Children-first tree rule (no q): at a node with distinct drafted children c1..cm, draw one uniform u and
// walk the children's target probabilities as an inverse CDF: accept ci if u falls in its interval,
// so P(ci) = p(ci); if u falls past all of them, draw from p with the children removed and
// renormalised. Every token again has probability exactly p; the tokens depend on the drafter.
//
// When every step accepts, one bonus token is drawn from the target at the last accepted node, as plain
// decoding would draw it there. The target is an IVerificationTarget: the engine's draws every node's plain
// token on the device in one batch (DeviceSampler) and hands host distributions only to the two rules that
// need them.
using TltTrainer.Sampling;

namespace TltTrainer.Speculative;

/// <summary>Outcome of verifying one draft: the accepted nodes (root excluded) and the token the target emits after them.</summary>
/// <param name="AcceptedNodes">Accepted node indices, root to leaf.</param>
/// <param name="NextToken">The correction (on rejection) or bonus token.</param>
/// <param name="NextTokenParent">The node the next token follows (−1 = root).</param>
public sealed record VerifyResult(IReadOnlyList<int> AcceptedNodes, int NextToken, int NextTokenParent);

/// <summary>How sampled tokens are verified against deterministic drafts (trees, n-grams, argmax chains).</summary>
public enum TreeVerification
{
    /// <summary>Draw the target token as plain decoding would and accept the matching child: output equals plain sampling for the same seed.</summary>
    Coupled,

    /// <summary>Walk the drafted children's target probabilities with one uniform; else sample from the target without them.</summary>
    ChildrenFirst,
}

/// <summary>What verification asks of the target at one row's draft.</summary>
public interface IVerificationTarget
{
    /// <summary>Whether the request is greedy.</summary>
    bool IsGreedy { get; }

    /// <summary>The token plain decoding draws after <paramref name="node"/> (−1 = after the root): what greedy and coupled verification accept.</summary>
    int PlainToken(int node);

    /// <summary>The target's whole distribution after <paramref name="node"/>; only the rejection and children-first rules ask for it.</summary>
    TokenDistribution Distribution(int node);
}

/// <summary>Lossless draft verification (greedy and coupled match, rejection sampling, tree inverse-CDF walk).</summary>
public static class SpeculativeVerifier
{
    /// <summary>Verifies <paramref name="tree"/> against <paramref name="target"/>.</summary>
    /// <param name="tree">The draft.</param>
    /// <param name="target">The target at the draft's nodes.</param>
    /// <param name="rng">The request's random stream (rejection and children-first rules only).</param>
    /// <param name="rule">Rule for sampled requests with deterministic drafts.</param>
    public static VerifyResult Verify(DraftTree tree, IVerificationTarget target, RequestRng rng, TreeVerification rule = TreeVerification.Coupled)
    {
        var accepted = new List<int>();
        int node = -1;
        while (true)
        {
            var children = tree.Children(node).ToArray();
            if (children.Length == 0) return new VerifyResult(accepted, target.PlainToken(node), node);   // bonus token
            int next;
            int emitted;
            if (target.IsGreedy) (next, emitted) = CoupledStep(tree, children, target.PlainToken(node));
            else if (tree.DraftProbs is not null) (next, emitted) = RejectionStep(tree, children[0], target.Distribution(node), rng);
            else if (rule == TreeVerification.Coupled) (next, emitted) = CoupledStep(tree, children, target.PlainToken(node));
            else (next, emitted) = TreeStep(tree, children, target.Distribution(node), rng);
            if (next < 0) return new VerifyResult(accepted, emitted, node);
            accepted.Add(next);
            node = next;
        }
    }

    /// <summary>Verifies <paramref name="tree"/> against host distributions (a reference path; the engine verifies on the device).</summary>
    /// <param name="tree">The draft.</param>
    /// <param name="target">Target distribution after a node (−1 = after the root), computed lazily by the caller.</param>
    /// <param name="noise">The request's sampling noise at the position after the root (a node of depth d: d positions on).</param>
    /// <param name="rng">The request's random stream (rejection and children-first rules only).</param>
    /// <param name="rule">Rule for sampled requests with deterministic drafts.</param>
    /// <param name="tolerance">Logit difference between computation paths that greedy and coupled draws absorb (0 = none).</param>
    /// <param name="canonical">The canonical recomputation of the distribution after a node, for draws within the tolerance of a decision.</param>
    public static VerifyResult Verify(DraftTree tree, Func<int, TokenDistribution> target, SamplingNoise noise, RequestRng rng,
        TreeVerification rule = TreeVerification.Coupled, double tolerance = 0, Func<int, TokenDistribution>? canonical = null) =>
        Verify(tree, new HostTarget(tree, target, noise, tolerance, canonical), rng, rule);

    /// <summary>Host distributions as a verification target: plain tokens drawn from them, redone on the canonical path near a decision.</summary>
    private sealed class HostTarget(DraftTree tree, Func<int, TokenDistribution> target, SamplingNoise noise, double tolerance,
        Func<int, TokenDistribution>? canonical) : IVerificationTarget
    {
        public bool IsGreedy => target(-1).IsGreedy;

        public int PlainToken(int node) => target(node).Sample(noise.After(node < 0 ? 0 : tree.Depths[node]), tolerance,
            canonical is null ? null : () => canonical(node), out _);

        public TokenDistribution Distribution(int node) => target(node);
    }

    /// <summary>Accepts the child whose token is <paramref name="y"/>, plain decoding's token here; else emits <paramref name="y"/>.</summary>
    private static (int Next, int Emitted) CoupledStep(DraftTree tree, int[] children, int y)
    {
        foreach (var c in children) if (tree.Tokens[c] == y) return (c, -1);
        return (-1, y);
    }

    private static (int Next, int Emitted) RejectionStep(DraftTree tree, int child, TokenDistribution p, RequestRng rng)
    {
        int x = tree.Tokens[child];
        double[] q = tree.DraftProbs![child];
        double u = rng.NextDouble();
        if (q[x] > 0 && u * q[x] < p.Probs[x]) return (child, -1);        // u < p/q without dividing
        var residual = new double[p.Probs.Length];
        double mass = 0;
        for (int i = 0; i < residual.Length; i++) { residual[i] = Math.Max(0, p.Probs[i] - q[i]); mass += residual[i]; }
        // mass == 0 only if p == q, where rejection has probability 0; fall back to p for float safety.
        return (-1, TokenDistribution.SampleFrom(mass > 0 ? residual : p.Probs, rng.NextDouble()));
    }

    private static (int Next, int Emitted) TreeStep(DraftTree tree, int[] children, TokenDistribution p, RequestRng rng)
    {
        double u = rng.NextDouble(), cumulative = 0;
        foreach (var c in children)
        {
            cumulative += p.Probs[tree.Tokens[c]];
            if (u < cumulative) return (c, -1);
        }
        var rest = (double[])p.Probs.Clone();
        foreach (var c in children) rest[tree.Tokens[c]] = 0;
        return (-1, TokenDistribution.SampleFrom(rest, rng.NextDouble()));
    }
}
