// A training batch for the drafter: rows of pairs (x_{t+1}, h_t) with targets h_{t+1}. Rows are either
// right-padded single sequences or several sequences packed into one row; for packing, positions
// restart at every sample and the attention mask is block-diagonal causal, so no sample attends another.
using static TorchSharp.torch;

namespace TltTrainer.Drafting;

/// <summary>Tensors of one drafter training step (owned; dispose after use).</summary>
public sealed class DrafterBatch : IDisposable
{
    /// <summary>Next tokens <c>x_{t+1}</c> <c>[B, T]</c> int64.</summary>
    public required Tensor NextTokens { get; init; }

    /// <summary>Input hidden states <c>h_t</c> <c>[B, T, H]</c>.</summary>
    public required Tensor Hidden { get; init; }

    /// <summary>Target hidden states <c>h_{t+1}</c> <c>[B, T, H]</c>.</summary>
    public required Tensor TargetHidden { get; init; }

    /// <summary>1 where the pair is trained, 0 elsewhere (prompt, padding) <c>[B, T]</c> float32.</summary>
    public required Tensor LossMask { get; init; }

    /// <summary>RoPE positions <c>[B, T]</c> int64 (restarting per packed sample).</summary>
    public required Tensor Positions { get; init; }

    /// <summary>Attention mask <c>[B, T, T]</c> bool (block-diagonal causal when packed), or null for plain causal.</summary>
    public Tensor? Mask { get; init; }

    /// <summary>
    /// Packs examples into rows of at most <paramref name="rowLength"/> pairs (first-fit in order); an example longer than a row
    /// keeps its last <paramref name="rowLength"/> pairs. With <paramref name="pack"/> false every example gets its own right-padded row.
    /// </summary>
    public static DrafterBatch Create(IReadOnlyList<DrafterExample> examples, int rowLength, bool pack, Device? device = null)
    {
        if (examples.Count == 0) throw new ArgumentException("no examples to batch.", nameof(examples));
        var rows = new List<List<(DrafterExample Example, int From, int Count)>>();
        var used = new List<int>();
        foreach (var e in examples)
        {
            int pairs = e.Tokens.Length - 1;
            int from = Math.Max(0, pairs - rowLength);
            int count = pairs - from;
            int row = pack ? used.FindIndex(u => u + count <= rowLength) : -1;
            if (row < 0) { rows.Add(new()); used.Add(0); row = rows.Count - 1; }
            rows[row].Add((e, from, count));
            used[row] += count;
        }
        int b = rows.Count, width = pack ? rowLength : used.Max();
        long h = examples[0].Hidden.shape[1];
        var next = new long[b * width];
        var positions = new long[b * width];
        var lossMask = new float[b * width];
        var segment = new int[b * width];
        var srcIndex = new List<(int Row, int Col, DrafterExample Example, int T)>();
        for (int r = 0; r < b; r++)
        {
            int col = 0, seg = 1;
            foreach (var (e, from, count) in rows[r])
            {
                for (int i = 0; i < count; i++, col++)
                {
                    int t = from + i;
                    next[r * width + col] = e.Tokens[t + 1];
                    positions[r * width + col] = i;
                    lossMask[r * width + col] = t >= e.LossStart ? 1f : 0f;
                    segment[r * width + col] = seg;
                    srcIndex.Add((r, col, e, t));
                }
                seg++;
            }
        }
        using var scope = NewDisposeScope();
        var dtype = examples[0].Hidden.dtype;
        var hidden = zeros(new long[] { b, width, h }, dtype);
        var target = zeros(new long[] { b, width, h }, dtype);
        foreach (var group in srcIndex.GroupBy(s => (s.Row, s.Example)))
        {
            var items = group.ToList();
            int first = items[0].T, count = items.Count, col = items[0].Col;
            hidden[group.Key.Row].narrow(0, col, count).copy_(group.Key.Example.Hidden.narrow(0, first, count));
            target[group.Key.Row].narrow(0, col, count).copy_(group.Key.Example.Hidden.narrow(0, first + 1, count));
        }
        Tensor? mask = null;
        if (pack)
        {
            var seg = tensor(segment, new long[] { b, width });
            mask = seg.unsqueeze(2).eq(seg.unsqueeze(1)).logical_and(ones(width, width, ScalarType.Bool).tril()).MoveToOuterDisposeScope();
        }
        var targetDevice = device ?? examples[0].Hidden.device;
        return new DrafterBatch
        {
            NextTokens = tensor(next, new long[] { b, width }).to(targetDevice).MoveToOuterDisposeScope(),
            Hidden = hidden.to(targetDevice).MoveToOuterDisposeScope(),
            TargetHidden = target.to(targetDevice).MoveToOuterDisposeScope(),
            LossMask = tensor(lossMask, new long[] { b, width }).to(targetDevice).MoveToOuterDisposeScope(),
            Positions = tensor(positions, new long[] { b, width }).to(targetDevice).MoveToOuterDisposeScope(),
            Mask = mask?.to(targetDevice).MoveToOuterDisposeScope(),
        };
    }

    /// <inheritdoc />
    public void Dispose()
    {
        NextTokens.Dispose(); Hidden.Dispose(); TargetHidden.Dispose(); LossMask.Dispose(); Positions.Dispose(); Mask?.Dispose();
    }
}
