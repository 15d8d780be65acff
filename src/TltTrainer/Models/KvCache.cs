// A preallocated, position-indexed key/value cache. Layout per layer: [rows, kvHeads, maxLength, headDim], so
// the keys one attention head reads are one contiguous [length, headDim] block: with the position-major layout
// ([rows, maxLength, kvHeads, headDim]) attention had to gather strided keys, and a decode step at running
// batch 4 grew from 2.7 to 7.6 ms between positions 0 and 900 (1 thread, embedded default).
// Each row (sequence) has its own length, so batches are ragged. A forward writes its new tokens at
// slots [length, length + T) of each row and advances the lengths; rejecting drafts is moving a length
// back (no copy); accepting a path through a draft tree copies the accepted slots to the front
// (Compact). Rows can be moved (MoveRow) so that finished sequences leave and the running batch
// shrinks. Cache tensors never require grad; the cached path is for inference.
using static TorchSharp.torch;

namespace TltTrainer.Models;

/// <summary>Key/value cache for <see cref="CausalLM"/>: preallocated, per-row lengths, explicit-position writes.</summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;
    private readonly int[] _lengths;

    /// <summary>Allocates a cache for <paramref name="rows"/> sequences of at most <paramref name="maxLength"/> tokens.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public KvCache(TransformerConfig config, int rows, int maxLength, ScalarType dtype, Device? device = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        Config = config;
        Rows = rows;
        MaxLength = maxLength;
        _keys = new Tensor[config.NumLayers];
        _values = new Tensor[config.NumLayers];
        _lengths = new int[rows];
        using var noGrad = no_grad();
        for (int l = 0; l < config.NumLayers; l++)
        {
            _keys[l] = zeros(new long[] { rows, config.NumKvHeads, maxLength, config.HeadDim }, dtype, device);
            _values[l] = zeros(new long[] { rows, config.NumKvHeads, maxLength, config.HeadDim }, dtype, device);
        }
    }

    /// <summary>The model shape this cache was made for.</summary>
    public TransformerConfig Config { get; }

    /// <summary>Number of rows (sequence slots).</summary>
    public int Rows { get; }

    /// <summary>Token capacity of each row.</summary>
    public int MaxLength { get; }

    /// <summary>Number of cached tokens in row <paramref name="row"/>.</summary>
    public int Length(int row) => _lengths[row];

    /// <summary>Copies the lengths of rows <c>[start, start + count)</c>.</summary>
    public int[] Lengths(int start, int count) => _lengths.AsSpan(start, count).ToArray();

    /// <summary>Rolls row <paramref name="row"/> back (or forward over already-written slots) to <paramref name="length"/> tokens.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The length is negative or beyond capacity.</exception>
    public void SetLength(int row, int length)
    {
        if (length < 0 || length > MaxLength)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"row {row}: length must lie in [0, {MaxLength}]");
        _lengths[row] = length;
    }

    /// <summary>Empties every row.</summary>
    public void Reset() => Array.Clear(_lengths);

    /// <summary>
    /// Keeps the entries at <paramref name="slots"/> (ascending, each ≥ <paramref name="start"/>) by copying them to
    /// slots <c>[start, start + slots.Length)</c> of row <paramref name="row"/>, and sets the row's length to the end of them.
    /// Used after accepting a path through a draft tree.
    /// </summary>
    public void Compact(int row, int start, ReadOnlySpan<int> slots)
    {
        bool identity = true;
        for (int i = 0; i < slots.Length; i++) identity &= slots[i] == start + i;
        if (!identity)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var index = tensor(slots.ToArray().Select(s => (long)s).ToArray(), device: _keys[0].device);
            for (int l = 0; l < _keys.Length; l++)
            {
                foreach (var cache in new[] { _keys[l], _values[l] })
                {
                    var rowView = cache[row];                           // [kvHeads, maxLength, headDim]
                    var kept = rowView.index_select(1, index);
                    rowView.narrow(1, start, slots.Length).copy_(kept);
                }
            }
        }
        SetLength(row, start + slots.Length);
    }

    /// <summary>Copies row <paramref name="from"/> (its first Length tokens) onto row <paramref name="to"/>.</summary>
    public void MoveRow(int from, int to)
    {
        if (from == to) return;
        int n = _lengths[from];
        if (n > 0)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            for (int l = 0; l < _keys.Length; l++)
            {
                _keys[l][to].narrow(1, 0, n).copy_(_keys[l][from].narrow(1, 0, n));
                _values[l][to].narrow(1, 0, n).copy_(_values[l][from].narrow(1, 0, n));
            }
        }
        _lengths[to] = n;
    }

    /// <summary>Writes new keys/values <c>[B, T, kvHeads, D]</c> of <paramref name="layer"/> at rows and slots <c>[B·T]</c>.</summary>
    internal void Write(int layer, Tensor k, Tensor v, Tensor rows, Tensor slots)
    {
        using var noGrad = no_grad();
        long kv = Config.NumKvHeads, d = Config.HeadDim;
        var at = new[] { TensorIndex.Tensor(rows), TensorIndex.Colon, TensorIndex.Tensor(slots) };   // selects [B·T, kvHeads, D]
        _keys[layer].index_put_(k.reshape(-1, kv, d), at);
        _values[layer].index_put_(v.reshape(-1, kv, d), at);
    }

    /// <summary>Views of keys and values of rows <c>[rowStart, rowStart + count)</c>, first <paramref name="length"/> slots: <c>[B, kvHeads, S, D]</c>.</summary>
    internal (Tensor K, Tensor V) Read(int layer, int rowStart, int count, int length) =>
        (_keys[layer].narrow(0, rowStart, count).narrow(2, 0, length),
         _values[layer].narrow(0, rowStart, count).narrow(2, 0, length));

    /// <summary>Advances the lengths of rows <c>[rowStart, rowStart + count)</c> by <paramref name="tokens"/>.</summary>
    internal void Advance(int rowStart, int count, int tokens)
    {
        for (int b = rowStart; b < rowStart + count; b++) _lengths[b] += tokens;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in _keys) t.Dispose();
        foreach (var t in _values) t.Dispose();
    }
}
