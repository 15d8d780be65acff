// EAGLE-2 dynamic tree drafting. Deterministic top-k expansion: from the root take the drafter's top-k
// tokens; at each further depth, forward the current beam (k nodes per row, each attending only its
// ancestors via a window mask over the tree's drafter-cache slots), take top-k children of each, and
// keep the k best of the k² candidates by cumulative log-probability as the next beam. Finally keep the
// best (budget − 1) nodes of everything generated. A child never scores above its parent and ties
// break by creation order, so the kept set is closed under parents. With the Coupled proposal a sampled
// request's children are the top-k of q perturbed by the request's noise at their position (a draw of k
// tokens from q without replacement whose first is the coupled chain's token): the child the target draws
// there is then among them whenever the drafter's q is close to p. Scores stay q's log-probabilities.
using static TorchSharp.torch;
using TltTrainer.Sampling;

namespace TltTrainer.Speculative;

internal static class EagleTree
{
    private sealed record Node(int Parent, int Token, double Score, int Depth);

    public static IReadOnlyList<DraftTree> Draft(EagleDrafter drafter, DraftContext context, Tensor root)
    {
        int b = context.Rows, k = context.Strategy.TopK, depth = context.Strategy.Depth, budget = Math.Min(context.Strategy.VerifyBudget - 1, context.MaxNodes);
        var device = drafter.Device;
        int maxPosition = drafter.Model.Config.MaxPositions - 1;
        var nodes = Enumerable.Range(0, b).Select(_ => new List<Node>()).ToArray();
        var (topScores, topTokens) = TopK(drafter, drafter.Logits(root), k, context, rowsPerRequest: 1, depth: 1);   // [B, k]
        var beam = new int[b][];
        for (int r = 0; r < b; r++)
        {
            beam[r] = new int[k];
            for (int c = 0; c < k; c++) { nodes[r].Add(new Node(-1, topTokens[r * k + c], topScores[r * k + c], 1)); beam[r][c] = c; }
        }
        var slotOf = Enumerable.Range(0, b).Select(_ => new Dictionary<int, int>()).ToArray();   // node → window slot
        var parentFeatures = root.unsqueeze(1).expand(b, k, root.shape[1]);                      // [B, k, H]
        for (int level = 1; level < depth; level++)
        {
            int window = k * level;
            var tokens = new long[b * k];
            var positions = new long[b * k];
            var mask = new bool[b * k * window];
            for (int r = 0; r < b; r++)
                for (int c = 0; c < k; c++)
                {
                    var node = beam[r][c];
                    int slot = k * (level - 1) + c;
                    slotOf[r][node] = slot;
                    tokens[r * k + c] = nodes[r][node].Token;
                    positions[r * k + c] = Math.Min(drafter.Consumed(r) - 1 + nodes[r][node].Depth, maxPosition);
                    for (int a = node; a >= 0; a = nodes[r][a].Parent) mask[(r * k + c) * window + slotOf[r][a]] = true;
                }
            var features = drafter.Step(tensor(tokens, new long[] { b, k }, device: device), parentFeatures,
                tensor(positions, new long[] { b, k }, device: device), tensor(mask, new long[] { b, k, window }, device: device));
            var (childScores, childTokens) = TopK(drafter, drafter.Logits(features), k, context, rowsPerRequest: k, depth: level + 1);   // [B·k, k]
            var nextParentIndex = new long[b * k];
            for (int r = 0; r < b; r++)
            {
                var candidates = new List<int>();
                for (int c = 0; c < k; c++)
                {
                    var parent = nodes[r][beam[r][c]];
                    for (int j = 0; j < k; j++)
                    {
                        int flat = (r * k + c) * k + j;
                        nodes[r].Add(new Node(beam[r][c], childTokens[flat], parent.Score + childScores[flat], parent.Depth + 1));
                        candidates.Add(nodes[r].Count - 1);
                    }
                }
                var next = candidates.OrderByDescending(n => nodes[r][n].Score).ThenBy(n => n).Take(k).ToArray();
                for (int c = 0; c < k; c++) nextParentIndex[r * k + c] = r * k + Array.IndexOf(beam[r], nodes[r][next[c]].Parent);
                beam[r] = next;
            }
            parentFeatures = features.view(b * k, -1).index_select(0, tensor(nextParentIndex, device: device)).view(b, k, -1);
        }
        return Enumerable.Range(0, b).Select(r => Select(nodes[r], budget, Math.Min(depth, context.MaxDraft[r]))).ToList();
    }

    private static DraftTree Select(List<Node> nodes, int budget, int maxDepth)
    {
        if (maxDepth <= 0) return DraftTree.Empty;
        var kept = Enumerable.Range(0, nodes.Count).Where(n => nodes[n].Depth <= maxDepth)
            .OrderByDescending(n => nodes[n].Score).ThenBy(n => n).Take(budget).OrderBy(n => n).ToArray();
        var newIndex = new Dictionary<int, int>();
        for (int i = 0; i < kept.Length; i++) newIndex[kept[i]] = i;
        var parents = kept.Select(n => nodes[n].Parent < 0 ? -1 : newIndex[nodes[n].Parent]).ToArray();
        return new DraftTree(parents, kept.Select(n => nodes[n].Token).ToArray());
    }

    /// <summary>
    /// Top-k children per row of float32 logits <c>[B·rowsPerRequest, V]</c> (flattened row-major): the top-k of the raw
    /// log-softmax, or for coupled sampled requests the top-k of q's log-probabilities plus the request's noise at the
    /// children's position (the row's length + <paramref name="depth"/> − 1).
    /// </summary>
    private static (double[] Scores, int[] Tokens) TopK(EagleDrafter drafter, Tensor logits, int k, DraftContext context, int rowsPerRequest, int depth)
    {
        bool coupled = context.Strategy.Proposal == DraftProposal.Coupled && context.Sampling.Any(s => !s.IsGreedy);
        if (!coupled) return RawTopK(logits, k, drafter.ColumnIds);
        var flat = logits.view(-1, logits.shape[^1]);
        var rows = Enumerable.Range(0, (int)flat.shape[0]).Select(i => i / rowsPerRequest)
            .Select(r => new DrawRequest(context.Sampling[r], new SamplingNoise(context.Sampling[r].Seed, context.Tokens[r].Count + depth - 1))).ToList();
        var (tokens, logProbs) = DeviceSampler.TopK(flat, rows, k, drafter.ColumnIds);
        // A child outside q's support scores as impossible (it is never verified ahead of one inside).
        return (logProbs.Select(l => double.IsNegativeInfinity(l) ? -1e9 : l).ToArray(), tokens);
    }

    /// <summary>Top-k log-softmax scores and tokens per row of float32 logits <c>[..., V]</c>, flattened row-major.</summary>
    private static (double[] Scores, int[] Tokens) RawTopK(Tensor logits, int k, Tensor? columnIds)
    {
        using var scope = NewDisposeScope();
        var logp = nn.functional.log_softmax(logits.view(-1, logits.shape[^1]), -1);
        var (values, indices) = logp.topk(k, -1);
        if (columnIds is not null) indices = columnIds.index_select(0, indices.reshape(-1)).view(indices.shape);
        // data<T>() reads host memory only (device tensors come over first).
        var v = values.to(ScalarType.Float64).cpu();
        var i = indices.to(ScalarType.Int32).cpu();
        return (v.data<double>().ToArray(), i.data<int>().ToArray());
    }
}
