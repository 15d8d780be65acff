// Chain drafting with the EAGLE drafter: depth-k autoregressive steps on the drafter's own predicted
// features. The drafted token at a position is, for greedy requests or the Argmax proposal, q's argmax; for
// the Coupled proposal, the Gumbel-max of q under the request's own noise at that position (what the target
// draws there when q is close to p, so coupled verification accepts it); for the Rejection proposal, a draw
// from q with the request's stream, q kept for rejection sampling.
using TltTrainer.Sampling;
using static TorchSharp.torch;

namespace TltTrainer.Speculative;

internal static class EagleChain
{
    public static IReadOnlyList<DraftTree> Draft(EagleDrafter drafter, DraftContext context, Tensor root)
    {
        int b = context.Rows;
        var strategy = context.Strategy;
        var depthOf = Enumerable.Range(0, b).Select(r => Math.Max(0, Math.Min(Math.Min(strategy.Depth, context.MaxDraft[r]), context.MaxNodes))).ToArray();
        int depth = depthOf.Max();
        var tokens = Enumerable.Range(0, b).Select(_ => new List<int>()).ToArray();
        var probs = Enumerable.Range(0, b).Select(_ => new List<double[]>()).ToArray();
        var rejection = Enumerable.Range(0, b).Select(r => strategy.Proposal == DraftProposal.Rejection && !context.Sampling[r].IsGreedy).ToArray();
        int maxPosition = drafter.Model.Config.MaxPositions - 1;
        var features = root;
        bool hostSide = rejection.Any(x => x);           // rejection sampling needs q itself; the other proposals draw on the device
        // Coupled drafts of rows without top-k/top-p: the noise of every depth made at once, and per depth only the Gumbel-max
        // (the same tokens as DeviceSampler.Draw, which at each depth would also make the noise and what a target draw needs).
        var firstDraws = Enumerable.Range(0, b).Select(r => new DrawRequest(context.Sampling[r], new SamplingNoise(context.Sampling[r].Seed, context.Tokens[r].Count))).ToList();
        using var chainNoise = !hostSide && strategy.Proposal == DraftProposal.Coupled && depth > 0
            && DeviceSampler.ChainShortcutApplies(firstDraws, depth, drafter.DraftColumns)
            ? DeviceSampler.ChainGumbel(firstDraws, depth, drafter.DraftColumns, drafter.Device, drafter.ColumnIds) : null;
        for (int i = 0; i < depth; i++)
        {
            var logits = drafter.Logits(features);                                                           // [B, V]
            var next = new long[b];
            if (hostSide)
            {
                var managed = HostLogits.ToManaged(logits);
                var vocabulary = drafter.Vocabulary;
                int columns = managed.Length / b;                                                            // V, or N with a reduced vocabulary
                for (int r = 0; r < b; r++)
                {
                    var q = TokenDistribution.FromLogits(managed.AsSpan(r * columns, columns), context.Sampling[r]);
                    var noise = new SamplingNoise(context.Sampling[r].Seed, context.Tokens[r].Count + i);
                    int column = rejection[r] ? q.Sample(context.Rngs[r])
                        : strategy.Proposal == DraftProposal.Coupled ? CoupledColumn(q, noise, vocabulary)
                        : q.Argmax;
                    int token = vocabulary?.ToTarget(column) ?? column;
                    next[r] = token;
                    if (i < depthOf[r]) { tokens[r].Add(token); probs[r].Add(Widened(q.Probs, vocabulary)); }
                }
            }
            else
            {
                // Coupled: q's Gumbel-max under the noise the target draws this position with (q's argmax for greedy rows).
                var drawn = chainNoise is not null ? DeviceSampler.GumbelMax(logits, chainNoise.select(1, i), firstDraws, drafter.ColumnIds)
                    : strategy.Proposal == DraftProposal.Coupled
                    ? DeviceSampler.Draw(logits, firstDraws.Select(r => r with { Noise = r.Noise.After(i) }).ToList(), tolerance: 0, drafter.ColumnIds).Tokens
                    : Argmax(logits, drafter.ColumnIds);
                for (int r = 0; r < b; r++)
                {
                    next[r] = drawn[r];
                    if (i < depthOf[r]) tokens[r].Add(drawn[r]);
                }
            }
            if (i == depth - 1) break;
            var positions = Enumerable.Range(0, b).Select(r => (long)Math.Min(drafter.Consumed(r) + i, maxPosition)).ToArray();
            features = drafter.Step(tensor(next, new long[] { b, 1 }, device: drafter.Device), features.unsqueeze(1),
                tensor(positions, new long[] { b, 1 }, device: drafter.Device), null).squeeze(1);
        }
        return Enumerable.Range(0, b).Select(r => tokens[r].Count == 0 ? DraftTree.Empty
            : new DraftTree(Enumerable.Range(-1, tokens[r].Count).ToArray(), tokens[r].ToArray(), rejection[r] ? probs[r].ToArray() : null)).ToList();
    }

    private static int[] Argmax(Tensor logits, Tensor? columnIds)
    {
        using var scope = NewDisposeScope();
        var best = logits.argmax(-1);
        if (columnIds is not null) best = columnIds.index_select(0, best);
        return best.to(ScalarType.Int32).cpu().data<int>().ToArray();
    }

    /// <summary>q's Gumbel-max column under the noise of each column's target id (the coupled draw, on the host).</summary>
    private static int CoupledColumn(TokenDistribution q, SamplingNoise noise, DraftVocabulary? vocabulary)
    {
        if (vocabulary is null || q.IsGreedy) return q.Sample(noise);
        int best = -1;
        double bestScore = double.NegativeInfinity;
        for (int d = 0; d < q.Probs.Length; d++)
        {
            if (q.Probs[d] <= 0) continue;
            double score = Math.Log(q.Probs[d]) - Math.Log(-Math.Log(noise.Uniform(vocabulary.ToTarget(d))));
            if (score > bestScore) (best, bestScore) = (d, score);
        }
        return best;
    }

    /// <summary>A draft distribution over the reduced vocabulary widened to the target's ids (0 where the drafter cannot propose).</summary>
    private static double[] Widened(double[] probs, DraftVocabulary? vocabulary)
    {
        if (vocabulary is null) return probs;
        var wide = new double[vocabulary.TargetVocabulary];
        for (int d = 0; d < probs.Length; d++) wide[vocabulary.ToTarget(d)] = probs[d];
        return wide;
    }
}
