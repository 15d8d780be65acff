// Packs every row's draft tree into one verification forward: column 0 is the root (the pending
// token), columns 1..n the drafted nodes; positions are cached length + depth; each column may attend
// its ancestors and itself. Rows with smaller trees are padded with self-only columns whose cache
// writes are discarded by the compaction that follows.
using TltTrainer.Models;
using TltTrainer.Speculative;
using static TorchSharp.torch;

namespace TltTrainer.Rollout;

internal sealed class VerifyInput
{
    private readonly long[] _tokens, _positions;
    private readonly bool[] _mask;
    private readonly int _rows;

    private VerifyInput(int rows, int width, long[] tokens, long[] positions, bool[] mask)
    {
        _rows = rows;
        Width = width;
        _tokens = tokens;
        _positions = positions;
        _mask = mask;
    }

    /// <summary>Columns per row: 1 + the largest tree.</summary>
    public int Width { get; }

    public static VerifyInput Build(IReadOnlyList<RunningSequence> rows, IReadOnlyList<DraftTree> trees, KvCache cache)
    {
        int b = rows.Count, width = 1 + trees.Max(t => t.Count);
        var tokens = new long[b * width];
        var positions = new long[b * width];
        var mask = new bool[b * width * width];
        for (int r = 0; r < b; r++)
        {
            var tree = trees[r];
            int length = cache.Length(r);
            int o = r * width;
            tokens[o] = rows[r].Tokens[^1];
            positions[o] = length;
            mask[(o + 0) * width + 0] = true;
            for (int c = 1; c < width; c++)
            {
                int node = c - 1;
                int m = (o + c) * width;
                mask[m + c] = true;
                if (node >= tree.Count) { positions[o + c] = length; continue; }   // padding: self only
                tokens[o + c] = tree.Tokens[node];
                positions[o + c] = length + tree.Depths[node];
                mask[m] = true;                                                    // the root
                for (int a = tree.Parents[node]; a >= 0; a = tree.Parents[a]) mask[m + a + 1] = true;
            }
        }
        return new VerifyInput(b, width, tokens, positions, mask);
    }

    public Tensor Tokens(Device device) => tensor(_tokens, new long[] { _rows, Width }, device: device);

    public Tensor Positions(Device device) => tensor(_positions, new long[] { _rows, Width }, device: device);

    public Tensor Mask(Device device) => tensor(_mask, new long[] { _rows, Width, Width }, device: device);
}
