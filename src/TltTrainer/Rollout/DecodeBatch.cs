// The running batch: rows of the KV cache, their sequences, and the three things that happen to them
// (admit with a batched prefill, one decode or verification step, retire finished rows). Row r of
// the cache, of the drafter's state and of Sequences always describe the same request.
using System.Diagnostics;
using TltTrainer.Models;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using static TorchSharp.torch;

namespace TltTrainer.Rollout;

internal sealed class DecodeBatch
{
    private readonly CausalLM _target;
    private readonly KvCache _cache;
    private readonly IReadOnlyList<IDrafter> _drafters;
    private readonly HashSet<IDrafter> _failed = new();
    private readonly Microsoft.Extensions.Logging.ILogger _logger;
    private readonly IHiddenStateSink? _sink;
    private readonly TreeVerification _treeVerification;
    private readonly double _tolerance;
    private readonly CanonicalForward _canonical;
    private readonly Action<float[]>? _perturb;
    private readonly int _capacity;
    private readonly RolloutMetrics _metrics;
    private readonly List<RunningSequence> _rows = new();
    private readonly Dictionary<long, List<List<int>>> _groups = new();

    /// <param name="tolerance">Logit difference between computation paths that draws absorb by the canonical recomputation (0 = none).</param>
    public DecodeBatch(CausalLM target, KvCache cache, IReadOnlyList<IDrafter> drafters, IHiddenStateSink? sink, int capacity,
        RolloutMetrics metrics, Microsoft.Extensions.Logging.ILogger logger, TreeVerification treeVerification, double tolerance,
        Action<float[]>? perturbBatchedLogits = null)
    {
        _perturb = perturbBatchedLogits;
        _treeVerification = treeVerification;
        _tolerance = tolerance;
        _canonical = new CanonicalForward(target);
        _target = target;
        _cache = cache;
        _drafters = drafters;
        _logger = logger;
        _sink = sink;
        _capacity = capacity;
        _metrics = metrics;
        foreach (var d in drafters) Guard(d, "Begin", () => d.Begin(cache.Rows, capacity));
    }

    public int Count => _rows.Count;

    /// <summary>Whether <paramref name="drafter"/> still works in this rollout (a drafter that threw is dropped).</summary>
    public bool IsUsable(IDrafter drafter) => !_failed.Contains(drafter);

    /// <summary>Runs a drafter call; a drafter that throws is reported and dropped for the rest of the rollout.</summary>
    private bool Guard(IDrafter drafter, string what, Action call)
    {
        if (_failed.Contains(drafter)) return false;
        try { call(); return true; }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _failed.Add(drafter);
            _metrics.DrafterFailures.Add($"{drafter.Name}.{what}: {e.GetType().Name}: {e.Message}");
            RolloutLog.DrafterFailed(_logger, drafter.Name, what, e);
            return false;
        }
    }

    private void ForEachDrafter(string what, Action<IDrafter> call)
    {
        foreach (var d in _drafters) Guard(d, what, () => call(d));
    }

    /// <summary>Prefills the newcomers' prompts in one right-padded forward and samples their first tokens.</summary>
    public void Admit(IReadOnlyList<RunningSequence> newcomers)
    {
        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        int start = _rows.Count, n = newcomers.Count, longest = newcomers.Max(s => s.PromptLength);
        var padded = new long[n * longest];
        for (int i = 0; i < n; i++)
            for (int t = 0; t < newcomers[i].PromptLength; t++) padded[i * longest + t] = newcomers[i].Tokens[t];
        for (int i = 0; i < n; i++)
        {
            _cache.SetLength(start + i, 0);
            _rows.Add(newcomers[i]);
            ForEachDrafter("ResetRow", d => d.ResetRow(start + i));
            var group = newcomers[i].Request.GroupId;
            if (group < 0) continue;                           // ungrouped: no siblings, nothing to remember
            if (!_groups.TryGetValue(group, out var list)) _groups[group] = list = new List<List<int>>();
            list.Add(newcomers[i].Tokens);
        }
        var output = _target.Forward(tensor(padded, new long[] { n, longest }, device: _target.Device), _cache, start, options: ForwardOptions.HiddenOnly);
        var last = tensor(newcomers.Select((s, i) => (long)(i * longest + s.PromptLength - 1)).ToArray(), device: _target.Device);
        var hidden = output.Hidden.view(n * longest, -1);
        var draws = new TargetDraws(BatchedLogits(_target.LmHead(hidden.index_select(0, last))),
            newcomers.Select(s => new DrawRequest(s.Sampling, s.NoiseAt(s.Tokens.Count))).ToList(), _tolerance);
        for (int i = 0; i < n; i++)
        {
            var seq = newcomers[i];
            _cache.SetLength(start + i, seq.PromptLength);
            var rowHidden = hidden.narrow(0, i * longest, seq.PromptLength);
            ForEachDrafter("Observe", d => d.Observe(start + i, 0, rowHidden));
            AppendDraw(draws, seq, i);
            _sink?.OnHiddenStates(seq.Request.Id, seq.PromptLength - 1, rowHidden.narrow(0, seq.PromptLength - 1, 1), seq.Tokens);
            _metrics.GeneratedTokens++;
        }
        _metrics.PrefillSeconds += clock.Elapsed.TotalSeconds;
    }

    /// <summary>One plain decode step: feed every row's pending token, sample the next.</summary>
    public void PlainStep()
    {
        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        int b = _rows.Count;
        var pending = tensor(_rows.Select(s => (long)s.Tokens[^1]).ToArray(), new long[] { b, 1 }, device: _target.Device);
        var output = _target.Forward(pending, _cache, 0, options: ForwardOptions.HiddenOnly);
        var hidden = output.Hidden.view(b, -1);
        var draws = new TargetDraws(BatchedLogits(_target.LmHead(hidden)), _rows.Select(s => new DrawRequest(s.Sampling, s.NoiseAt(s.Tokens.Count))).ToList(), _tolerance);
        var positions = new int[b];
        for (int r = 0; r < b; r++)
        {
            var seq = _rows[r];
            int position = positions[r] = seq.Tokens.Count - 1;
            AppendDraw(draws, seq, r);
            seq.VerifyRounds++;
            if (_sink is not null) _sink.OnHiddenStates(seq.Request.Id, position, hidden.narrow(0, r, 1), seq.Tokens);
        }
        ForEachDrafter("Observe", d => d.ObserveStep(positions, hidden));
        _metrics.GeneratedTokens += b;
        _metrics.DecodeSteps++;
        _metrics.VerifySeconds += clock.Elapsed.TotalSeconds;
    }

    /// <summary>One speculation round: draft, verify every row's tree in one target forward, accept, roll back.</summary>
    public void SpeculativeStep(IDrafter drafter, SpecStrategy strategy)
    {
        // The verification forward writes 1 + the largest draft's slots into every row's cache (smaller drafts are padded), so
        // the fullest row's room bounds every row's draft this round.
        int maxNodes = _rows.Min(s => _capacity - s.Tokens.Count);
        if (maxNodes <= 0) { PlainStep(); return; }
        var draftClock = Stopwatch.StartNew();
        IReadOnlyList<DraftTree>? trees = null;
        Guard(drafter, "Propose", () => trees = Draft(drafter, strategy, maxNodes));
        _metrics.DraftSeconds += draftClock.Elapsed.TotalSeconds;
        if (trees is null || trees.All(t => t.Count == 0)) { PlainStep(); return; }

        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        var input = VerifyInput.Build(_rows, trees, _cache);
        var output = _target.Forward(input.Tokens(_target.Device), _cache, 0, input.Positions(_target.Device),
            input.Mask(_target.Device), ForwardOptions.HiddenOnly);
        int b = _rows.Count, width = input.Width;
        var hidden = output.Hidden.view(b * width, -1);
        // Plain decoding's draw at every column (the root and each node; a padding column repeats the root's position and
        // is never read): the target's token there is all that greedy and coupled verification need.
        var requests = new List<DrawRequest>(b * width);
        var used = new List<bool>(b * width);
        for (int r = 0; r < b; r++)
            for (int c = 0; c < width; c++)
            {
                int depth = c == 0 || c > trees[r].Count ? 0 : trees[r].Depths[c - 1];
                requests.Add(new DrawRequest(_rows[r].Sampling, _rows[r].NoiseAt(_rows[r].Tokens.Count + depth)));
                used.Add(c <= trees[r].Count);
            }
        var draws = new TargetDraws(BatchedLogits(_target.LmHead(hidden)), requests, _tolerance, used);
        for (int r = 0; r < b; r++)
        {
            var seq = _rows[r];
            var tree = trees[r];
            int length = seq.Tokens.Count - 1;                      // cached tokens before this round
            var target = draws.Row(seq, tree, r * width, node => CanonicalAfter(seq, tree, node));
            var verdict = SpeculativeVerifier.Verify(tree, target, seq.Rng, _treeVerification);
            _metrics.CanonicalDraws += target.CanonicalDraws;

            // Emit accepted drafts then the correction/bonus token, stopping early at a stop token or limit.
            var slots = new List<int> { 0 };                        // verify-input columns kept: the root, then accepted nodes
            int emitted = 0;
            bool goesOn = true;
            for (int i = 0; i < verdict.AcceptedNodes.Count && goesOn; i++)
            {
                int node = verdict.AcceptedNodes[i];
                int parent = tree.Parents[node];
                goesOn = seq.Append(tree.Tokens[node], target.LogProb(parent, tree.Tokens[node]), _capacity);
                slots.Add(node + 1);
                emitted++;
            }
            if (goesOn)
            {
                seq.Append(verdict.NextToken, target.LogProb(verdict.NextTokenParent, verdict.NextToken), _capacity);
                emitted++;
            }
            seq.VerifyRounds++;
            seq.Drafted += tree.Count;
            seq.Accepted += verdict.AcceptedNodes.Count;
            _metrics.DraftedTokens += tree.Count;
            _metrics.AcceptedTokens += verdict.AcceptedNodes.Count;
            _metrics.GeneratedTokens += emitted;
            if (tree.Count > 0) { _metrics.AcceptLengthSum += verdict.AcceptedNodes.Count + 1; _metrics.SpeculativeRowRounds++; }

            // Keep the hidden states and cache entries of the positions whose next token was emitted.
            var kept = slots.Take(emitted).ToArray();
            _cache.Compact(r, length, kept.Select(c => length + c).ToArray());
            var keptHidden = hidden.index_select(0, tensor(kept.Select(c => (long)(r * width + c)).ToArray(), device: _target.Device));
            ForEachDrafter("Observe", d => d.Observe(r, length, keptHidden));
            _sink?.OnHiddenStates(seq.Request.Id, length, keptHidden, seq.Tokens);
        }
        _metrics.DecodeSteps++;
        _metrics.SpeculativeSteps++;
        _metrics.VerifySeconds += clock.Elapsed.TotalSeconds;
    }

    /// <summary>A batched forward's logits (through the test seam that simulates another machine's rounding, when set).</summary>
    private Tensor BatchedLogits(Tensor logits)
    {
        if (_perturb is null) return logits;
        var managed = HostLogits.ToManaged(logits);
        _perturb(managed);
        return tensor(managed, logits.shape, device: logits.device);
    }

    /// <summary>Appends row <paramref name="column"/>'s draw (plain decoding's next token) to <paramref name="seq"/>.</summary>
    private void AppendDraw(TargetDraws draws, RunningSequence seq, int column)
    {
        var target = draws.Row(seq, DraftTree.Empty, column, _ => CanonicalAfter(seq, DraftTree.Empty, -1));
        int token = target.PlainToken(-1);
        float logProb = target.LogProb(-1, token);
        _metrics.CanonicalDraws += target.CanonicalDraws;
        seq.Append(token, logProb, _capacity);
    }

    /// <summary>The canonical distribution after <paramref name="node"/> of a row's draft: its prefix is the row's tokens and the path to the node.</summary>
    private TokenDistribution CanonicalAfter(RunningSequence seq, DraftTree tree, int node)
    {
        var path = new List<int>();
        for (int n = node; n >= 0; n = tree.Parents[n]) path.Add(tree.Tokens[n]);
        path.Reverse();
        return _canonical.Distribution(seq.Tokens.Concat(path), seq.Sampling);
    }

    /// <summary>Removes finished rows (the last row moves into each hole) and returns them.</summary>
    public List<RunningSequence> Retire()
    {
        var done = new List<RunningSequence>();
        using var scope = NewDisposeScope();       // row moves make view temporaries (cache, drafter history)
        for (int r = _rows.Count - 1; r >= 0; r--)
        {
            if (_rows[r].Finish is null) continue;
            done.Add(_rows[r]);
            _sink?.OnSequenceFinished(_rows[r].Request.Id);
            int last = _rows.Count - 1;
            if (r != last)
            {
                _cache.MoveRow(last, r);
                ForEachDrafter("MoveRow", d => d.MoveRow(last, r));
                _rows[r] = _rows[last];
            }
            _rows.RemoveAt(last);
        }
        return done;
    }

    private IReadOnlyList<DraftTree> Draft(IDrafter drafter, SpecStrategy strategy, int maxNodes)
    {
        // A node deeper than the tokens a row may still emit after its pending one is never used.
        var maxDraft = _rows.Select(s => Math.Max(0, Math.Min(s.Sampling.MaxNewTokens - s.Generated - 1, _capacity - s.Tokens.Count))).ToList();
        var context = new DraftContext
        {
            Rows = _rows.Count,
            Tokens = _rows.Select(s => (IReadOnlyList<int>)s.Tokens).ToList(),
            PromptLengths = _rows.Select(s => s.PromptLength).ToList(),
            Sampling = _rows.Select(s => s.Sampling).ToList(),
            Rngs = _rows.Select(s => s.Rng).ToList(),
            Siblings = new SiblingLists(_rows, _groups),
            Strategy = strategy,
            MaxDraft = maxDraft,
            MaxNodes = maxNodes,
        };
        var trees = drafter.Propose(context);
        if (trees.Count != _rows.Count) throw new InvalidOperationException($"drafter '{drafter.Name}' returned {trees.Count} drafts for {_rows.Count} rows.");
        // Whatever the drafter proposed, no row's draft may exceed the round's limits (cut, never dropped: a prefix of a
        // draft is still a draft, and the output does not depend on it).
        return trees.Select((t, r) => t.Truncate(maxNodes, maxDraft[r])).ToList();
    }
}
