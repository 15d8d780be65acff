// The target's draws at every column of one batched forward (the prompts' last positions of a prefill, a decode
// step's rows, a verification forward's draft nodes), made on the device in one batch with one host copy
// (DeviceSampler), and what each row still asks of the host: the canonical recomputation of a draw that was not
// robust, and, for the rejection and children-first rules only, a node's whole distribution (one row of logits
// copied over). A row's view is an IVerificationTarget, so plain steps and verification read draws one way.
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using static TorchSharp.torch;

namespace TltTrainer.Rollout;

internal sealed class TargetDraws
{
    private readonly Tensor _logits;                 // [N, V] on the device; valid for the step that made it
    private readonly DrawResults _draws;

    /// <summary>Draws every row of <paramref name="logits"/> for <paramref name="requests"/> (one per row).</summary>
    /// <exception cref="NonFiniteLogitsException">A row that is drawn from holds a non-finite logit.</exception>
    public TargetDraws(Tensor logits, IReadOnlyList<DrawRequest> requests, double tolerance, IReadOnlyList<bool>? used = null)
    {
        _logits = logits;
        _draws = DeviceSampler.Draw(logits, requests, tolerance);
        for (int i = 0; i < requests.Count; i++)
            if (!_draws.Finite[i] && (used is null || used[i])) throw NonFinite(i);
    }

    /// <summary>Row <paramref name="seq"/>'s view of columns <c>[firstColumn, firstColumn + 1 + tree.Count)</c> (root, then the tree's nodes).</summary>
    public RowTarget Row(RunningSequence seq, DraftTree tree, int firstColumn, Func<int, TokenDistribution> canonical) =>
        new(this, seq, tree, firstColumn, canonical);

    private NonFiniteLogitsException NonFinite(int row)
    {
        var values = HostLogits.ToManaged(_logits.narrow(0, row, 1));
        int token = Array.FindIndex(values, v => !float.IsFinite(v));
        return new NonFiniteLogitsException(token, values[token]);
    }

    /// <summary>One row's draws; a draw that was not robust is redone on the canonical path the first time it is read.</summary>
    internal sealed class RowTarget(TargetDraws owner, RunningSequence seq, DraftTree tree, int firstColumn, Func<int, TokenDistribution> canonical)
        : IVerificationTarget
    {
        private readonly Dictionary<int, TokenDistribution> _host = new();
        private readonly Dictionary<int, (int Token, TokenDistribution Distribution)> _redone = new();

        /// <summary>Draws redone on the canonical path so far.</summary>
        public int CanonicalDraws => _redone.Count;

        public bool IsGreedy => seq.Sampling.IsGreedy;

        public int PlainToken(int node)
        {
            int column = firstColumn + node + 1;
            if (owner._draws.Robust[column]) return owner._draws.Tokens[column];
            return Redone(node).Token;
        }

        /// <summary>Log-probability of <paramref name="token"/> after <paramref name="node"/> under the distribution that decided there.</summary>
        public float LogProb(int node, int token)
        {
            int column = firstColumn + node + 1;
            if (_redone.TryGetValue(node, out var redone)) return redone.Distribution.LogProb(token);
            if (owner._draws.Robust[column] && token == owner._draws.Tokens[column]) return owner._draws.LogProbs[column];
            return Distribution(node).LogProb(token);
        }

        public TokenDistribution Distribution(int node)
        {
            if (_redone.TryGetValue(node, out var redone)) return redone.Distribution;
            if (_host.TryGetValue(node, out var host)) return host;
            var values = HostLogits.ToManaged(owner._logits.narrow(0, firstColumn + node + 1, 1));   // one row, for the two host-side rules
            return _host[node] = TokenDistribution.FromLogits(values, seq.Sampling);
        }

        private (int Token, TokenDistribution Distribution) Redone(int node)
        {
            if (_redone.TryGetValue(node, out var done)) return done;
            var distribution = canonical(node);
            int depth = node < 0 ? 0 : tree.Depths[node];
            return _redone[node] = (distribution.Sample(seq.NoiseAt(seq.Tokens.Count + depth)), distribution);
        }
    }
}
