// Rotate-half RoPE (HF Llama layout: the first and second halves of a head are the pair, not
// interleaved neighbours). The cos/sin tables are not module state: they are derived from the
// config, cached per device/dtype here, and never saved into a checkpoint.
using TorchSharp;
using static TorchSharp.torch;

namespace TltTrainer.Models;

/// <summary>Rotary position embedding tables and their application to query/key heads.</summary>
public sealed class RotaryEmbedding : IDisposable
{
    private readonly int _headDim;
    private readonly int _maxPositions;
    private readonly double _theta;
    private readonly object _gate = new();
    private readonly Dictionary<(DeviceType, int, ScalarType), (Tensor Cos, Tensor Sin)> _tables = new();

    /// <summary>Creates tables for <paramref name="maxPositions"/> positions of heads of width <paramref name="headDim"/>.</summary>
    public RotaryEmbedding(int headDim, int maxPositions, double theta)
    {
        _headDim = headDim;
        _maxPositions = maxPositions;
        _theta = theta;
    }

    /// <summary>Cos and sin for the given positions: each <c>[B, T, 1, D]</c> in <paramref name="dtype"/>.</summary>
    /// <param name="positions">Absolute positions <c>[B, T]</c>, int64.</param>
    /// <param name="dtype">Dtype of the heads they will multiply.</param>
    public (Tensor Cos, Tensor Sin) Gather(Tensor positions, ScalarType dtype)
    {
        var (cos, sin) = Table(positions.device, dtype);
        using var scope = NewDisposeScope();       // keeps the chained temporaries alive through the native calls
        var flat = positions.reshape(-1);
        var shape = new long[] { positions.shape[0], positions.shape[1], 1, _headDim };
        return (cos.index_select(0, flat).view(shape).MoveToOuterDisposeScope(), sin.index_select(0, flat).view(shape).MoveToOuterDisposeScope());
    }

    /// <summary>Applies the rotation to heads <c>x [B, T, heads, D]</c>. Call inside a dispose scope (intermediates are not freed here).</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        long half = x.shape[^1] / 2;
        using var scope = NewDisposeScope();       // keeps the chained temporaries alive through the native calls
        var rotated = cat(new[] { x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half) }, -1);
        return (x * cos).add(rotated * sin, RootedScalars.One).MoveToOuterDisposeScope();
    }

    private (Tensor Cos, Tensor Sin) Table(Device device, ScalarType dtype)
    {
        var key = (device.type, device.index, dtype);
        lock (_gate)
        {
            if (_tables.TryGetValue(key, out var table)) return table;
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            // Angles in float64 so that long positions keep their precision, then cast.
            var invFreq = pow(_theta, -arange(0, _headDim, 2, ScalarType.Float64) / _headDim);
            var angles = outer(arange(_maxPositions, ScalarType.Float64), invFreq);
            var full = cat(new[] { angles, angles }, -1);
            table = (full.cos().to(dtype, device).DetachFromDisposeScope(), full.sin().to(dtype, device).DetachFromDisposeScope());
            _tables[key] = table;
            return table;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var (cos, sin) in _tables.Values) { cos.Dispose(); sin.Dispose(); }
            _tables.Clear();
        }
    }
}
