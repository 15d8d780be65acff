// Chain drafting with the EAGLE drafter: depth-k autoregressive steps on the drafter's own predicted
// features. The drafted token at a position is, for greedy requests or the Argmax proposal, q's argmax; for
// the Coupled proposal, the Gumbel-max of q under the request's own noise at that position (what the target
// draws there when q is close to p, so coupled verification accepts it); for the Rejection proposal, a draw
// from q with the request's stream, q kept for rejection sampling.
using TltTrainer.Rollout;
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
        for (int i = 0; i < depth; i++)
        {
            var logits = drafter.Logits(features);                                                           // [B, V]
            var next = new long[b];
            if (hostSide)
            {
                var managed = RolloutEngine.ToManaged(logits);
                int vocab = managed.Length / b;
                for (int r = 0; r < b; r++)
                {
                    var q = TokenDistribution.FromLogits(managed.AsSpan(r * vocab, vocab), context.Sampling[r]);
                    int token = rejection[r] ? q.Sample(context.Rngs[r])
                        : strategy.Proposal == DraftProposal.Coupled ? q.Sample(new SamplingNoise(context.Sampling[r].Seed, context.Tokens[r].Count + i))
                        : q.Argmax;
                    next[r] = token;
                    if (i < depthOf[r]) { tokens[r].Add(token); probs[r].Add(q.Probs); }
                }
            }
            else
            {
                // Coupled: q's Gumbel-max under the noise the target draws this position with (q's argmax for greedy rows).
                var drawn = strategy.Proposal == DraftProposal.Coupled
                    ? DeviceSampler.Draw(logits, Enumerable.Range(0, b).Select(r => new DrawRequest(context.Sampling[r],
                        new SamplingNoise(context.Sampling[r].Seed, context.Tokens[r].Count + i))).ToList(), tolerance: 0).Tokens
                    : Argmax(logits);
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

    private static int[] Argmax(Tensor logits)
    {
        using var scope = NewDisposeScope();
        return logits.argmax(-1).to(ScalarType.Int32).cpu().data<int>().ToArray();
    }
}
