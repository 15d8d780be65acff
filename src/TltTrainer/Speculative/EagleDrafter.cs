// Runtime of the EAGLE drafter inside the rollout engine. Per row it keeps the target hidden states
// the engine observed (h_t for every cached position) and its own one-layer KV cache over the pairs
// (x_{t+1}, h_t) it has consumed. A round first catches up on the pairs accepted since the last round
// (one batched forward, whose last output is the root feature), then drafts a chain or an EAGLE-2
// tree with its own predicted features, and finally rolls its cache back to the consumed pairs, so
// only true target hidden states ever stay in it.
using TltTrainer.Models;
using static TorchSharp.torch;

namespace TltTrainer.Speculative;

/// <summary>EAGLE-style drafter: one decoder layer over the target's hidden states, proposing chains or dynamic trees.</summary>
public sealed class EagleDrafter : IDrafter
{
    private readonly CausalLM _target;
    private KvCache? _cache;
    private Tensor? _history;          // [rows, maxLength, H] target hidden states by position
    private Tensor? _head, _columnIds; // the reduced head [N, H] (the target's lm_head rows of Vocabulary) and its ids [N]
    private int[] _observed = Array.Empty<int>();
    private int[] _consumed = Array.Empty<int>();

    private readonly IDrafterWeightsSource? _weights;

    /// <summary>Creates the runtime for <paramref name="model"/> drafting for <paramref name="target"/> (whose embedding and head it uses).</summary>
    /// <param name="target">The target model.</param>
    /// <param name="model">The serving drafter network (owned by the caller).</param>
    /// <param name="weights">Optional source of newer weights, copied into <paramref name="model"/> between speculation rounds.</param>
    public EagleDrafter(CausalLM target, EagleDraftModel model, IDrafterWeightsSource? weights = null)
    {
        _weights = weights;
        if (model.Config.HiddenSize != target.Config.HiddenSize)
            throw new ArgumentException($"drafter width {model.Config.HiddenSize} does not match the target's {target.Config.HiddenSize}.", nameof(model));
        _target = target;
        Model = model;
    }

    /// <summary>The drafter network in use. Swap it only between rollouts or rounds (never during <see cref="Propose"/>).</summary>
    public EagleDraftModel Model { get; set; }

    /// <inheritdoc />
    public string Name => "eagle";

    /// <summary>
    /// The tokens the drafter may propose, or null (default) for the target's whole vocabulary. Its head is the target's lm_head
    /// restricted to these rows, taken at <see cref="Begin"/> (the policy changes only between rollouts); set it between
    /// rollouts. Verification stays exact: tokens outside it are simply never proposed.
    /// </summary>
    public DraftVocabulary? Vocabulary
    {
        get => _vocabulary;
        set
        {
            if (value is not null && value.TargetVocabulary != _target.Config.VocabSize)
                throw new ArgumentException($"the draft vocabulary is over {value.TargetVocabulary} tokens but the target has {_target.Config.VocabSize}.", nameof(value));
            _vocabulary = value;
        }
    }

    private DraftVocabulary? _vocabulary;

    /// <summary>Version of the weights in <see cref="Model"/> (0 = as constructed).</summary>
    public long ServingVersion { get; private set; }

    /// <inheritdoc />
    public void Begin(int rows, int maxLength)
    {
        DisposeState();
        // Room for a catch-up plus a whole draft tree beyond the longest sequence.
        _cache = new KvCache(Model.Config, rows, maxLength + 256, _target.DType, _target.Device);
        using var noGrad = no_grad();
        _history = zeros(new long[] { rows, maxLength, _target.Config.HiddenSize }, _target.DType, _target.Device);
        _observed = new int[rows];
        _consumed = new int[rows];
        if (_vocabulary is not null)
        {
            _columnIds = tensor(_vocabulary.TargetIds.Select(t => (long)t).ToArray(), device: _target.Device);
            _head = _target.LmHeadWeight.detach().index_select(0, _columnIds);
        }
    }

    /// <inheritdoc />
    public void ResetRow(int row)
    {
        _observed[row] = 0;
        _consumed[row] = 0;
        _cache!.SetLength(row, 0);
    }

    /// <inheritdoc />
    public void MoveRow(int from, int to)
    {
        _cache!.MoveRow(from, to);
        if (_observed[from] > 0)
        {
            using var scope = NewDisposeScope();   // the row views _history[to] / [from] are temporaries too
            using var noGrad = no_grad();
            using var dst = _history![to].narrow(0, 0, _observed[from]);
            using var src = _history[from].narrow(0, 0, _observed[from]);
            dst.copy_(src);
        }
        _observed[to] = _observed[from];
        _consumed[to] = _consumed[from];
    }

    /// <inheritdoc />
    public void Observe(int row, int start, Tensor hidden)
    {
        int n = (int)hidden.shape[0];
        using (NewDisposeScope()) _history![row].narrow(0, start, n).copy_(hidden);   // the row view is a temporary too
        Observed(row, start, n);
    }

    /// <inheritdoc />
    /// <remarks>One index_copy_ into the history for the whole batch instead of a narrow and a copy per row.</remarks>
    public void ObserveStep(IReadOnlyList<int> positions, Tensor hidden)
    {
        int b = positions.Count;
        long maxLength = _history!.shape[1];
        var flat = new long[b];
        for (int r = 0; r < b; r++) flat[r] = r * maxLength + positions[r];
        using (NewDisposeScope())
        using (no_grad())
            _history.view(-1, _history.shape[2]).index_copy_(0, tensor(flat, device: _history.device), hidden);
        for (int r = 0; r < b; r++) Observed(r, positions[r], 1);
    }

    // Row `row` now has target hidden states up to start + n; pairs consumed from start on were drafted over
    // states that are now replaced, so the drafter's cache rolls back to start.
    private void Observed(int row, int start, int n)
    {
        _observed[row] = start + n;
        if (_consumed[row] > start) { _consumed[row] = start; _cache!.SetLength(row, start); }
    }

    /// <inheritdoc />
    public IReadOnlyList<DraftTree> Propose(DraftContext context)
    {
        // New weights are taken here, between rounds, never inside one.
        if (_weights is not null) ServingVersion = _weights.Refresh(Model, ServingVersion);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var root = CatchUp(context);                                    // [B, H] predicted h at the pending token
        var lengths = Enumerable.Range(0, context.Rows).Select(r => _cache!.Length(r)).ToArray();
        try
        {
            return context.Strategy.Shape == DraftShape.Chain
                ? EagleChain.Draft(this, context, root)
                : EagleTree.Draft(this, context, root);
        }
        finally
        {
            for (int r = 0; r < context.Rows; r++) _cache!.SetLength(r, lengths[r]);   // drop drafted entries
        }
    }

    /// <summary>Runs the drafter over every row's unconsumed pairs (x_{t+1}, h_t); returns each row's last output <c>[B, H]</c>.</summary>
    private Tensor CatchUp(DraftContext context)
    {
        int b = context.Rows;
        var pending = new int[b];
        for (int r = 0; r < b; r++)
        {
            int cached = context.Tokens[r].Count - 1;
            if (_observed[r] != cached)
                throw new InvalidOperationException($"eagle drafter row {r}: observed {_observed[r]} hidden states but the row has {cached} cached tokens.");
            pending[r] = cached - _consumed[r];
        }
        int width = pending.Max();
        var tokens = new long[b * width];
        var positions = new long[b * width];
        var gather = new long[b * width];                               // flat index into history [rows·maxLength]
        long maxLength = _history!.shape[1];
        for (int r = 0; r < b; r++)
            for (int j = 0; j < width; j++)
            {
                int t = _consumed[r] + Math.Min(j, pending[r] - 1);    // padding repeats the last pair
                tokens[r * width + j] = context.Tokens[r][t + 1];
                positions[r * width + j] = t;
                gather[r * width + j] = r * maxLength + t;
            }
        var device = _target.Device;
        var hidden = _history.view(-1, _history.shape[2]).index_select(0, tensor(gather, device: device)).view(b, width, -1);
        var embeds = _target.Embed(tensor(tokens, new long[] { b, width }, device: device));
        var output = Model.Forward(embeds, hidden, _cache, 0, tensor(positions, new long[] { b, width }, device: device));
        var last = new long[b];
        for (int r = 0; r < b; r++)
        {
            _consumed[r] += pending[r];
            _cache!.SetLength(r, _consumed[r]);
            last[r] = r * width + pending[r] - 1;
        }
        return output.view(b * width, -1).index_select(0, tensor(last, device: device));
    }

    /// <summary>One drafting step from the current cache state (used by chain and tree drafting).</summary>
    internal Tensor Step(Tensor tokens, Tensor features, Tensor positions, Tensor? mask) =>
        Model.Forward(_target.Embed(tokens), features, _cache, 0, positions, mask);

    /// <summary>Float32 logits of drafted features <c>[..., V]</c>, or <c>[..., N]</c> over the reduced vocabulary (see <see cref="ColumnIds"/>).</summary>
    internal Tensor Logits(Tensor features)
    {
        if (_head is null) return _target.LmHead(features);
        using var scope = NewDisposeScope();
        return nn.functional.linear(features, _head).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>Columns of <see cref="Logits"/>: the reduced vocabulary's size (as taken at <see cref="Begin"/>), or the target's vocabulary.</summary>
    internal int DraftColumns => _columnIds is null ? _target.Config.VocabSize : (int)_columnIds.shape[0];

    /// <summary>The target id of each column of <see cref="Logits"/> <c>[N]</c> int64 with a reduced vocabulary, else null (column = id).</summary>
    internal Tensor? ColumnIds => _columnIds;

    internal Device Device => _target.Device;

    internal int Consumed(int row) => _consumed[row];

    private void DisposeState()
    {
        _cache?.Dispose();
        _history?.Dispose();
        _head?.Dispose();
        _columnIds?.Dispose();
        _cache = null;
        _history = null;
        _head = null;
        _columnIds = null;
    }

    /// <inheritdoc />
    public void Dispose() => DisposeState();
}
