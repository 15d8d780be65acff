// The canonical path of reproducible draws (see TokenDistribution): a position's logits recomputed from its
// token prefix alone, by an uncached forward of that one sequence on one intra-op thread. Nothing about the
// rollout around it (the batch it ran in, the draft shape of the round, the arm the bandit chose, the worker's
// thread count) enters this computation, so every path that asks for a position gets the same distribution.
// It costs a forward over the prefix and runs only for the rare draw that falls within the path tolerance of a
// decision boundary (about 8t/T of sampled draws).
using TltTrainer.Models;
using TltTrainer.Sampling;
using static TorchSharp.torch;

namespace TltTrainer.Rollout;

internal sealed class CanonicalForward(CausalLM target)
{
    /// <summary>The distribution of the token after <paramref name="prefix"/> (prompt + generated so far, non-empty).</summary>
    public TokenDistribution Distribution(IEnumerable<int> prefix, SamplingOptions sampling)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = prefix.Select(t => (long)t).ToArray();
        int threads = TorchSharp.torch.get_num_threads();
        TorchSharp.torch.set_num_threads(1);        // per thread: the worker's own setting is restored below
        try
        {
            var output = target.Forward(tensor(ids, new long[] { 1, ids.Length }, device: target.Device), options: ForwardOptions.HiddenOnly);
            var last = output.Hidden.view(ids.Length, -1).narrow(0, ids.Length - 1, 1);
            return TokenDistribution.FromLogits(HostLogits.ToManaged(target.LmHead(last)), sampling);
        }
        finally { TorchSharp.torch.set_num_threads(threads); }
    }
}
