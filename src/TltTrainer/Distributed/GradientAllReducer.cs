// Sums the parameters' gradients over all ranks before an optimizer step, bucketed: parameters are cut
// (in order, by dtype) into buckets of at most BucketBytes, each with one persistent flat host buffer;
// a reduction copies the bucket's gradients into it, all-reduces it in place (one MPI call per bucket
// instead of one per tensor), and copies the sums back. It sums rather than averages on purpose: the
// RL losses divide by batch-wide (global) token and sequence counts, so the sum of the ranks' gradients
// is already the gradient of the whole batch. Every rank must hold gradients for the same parameters
// (a rank with no data backpropagates a zero loss first); a parameter without a gradient on every rank
// is skipped. With one rank it does nothing.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TltTrainer.Distributed;

/// <summary>Bucketed, in-place all-reduce (sum) of gradients over the ranks of a communicator.</summary>
public sealed class GradientAllReducer : IDisposable
{
    private readonly ICommunicator _communicator;
    private readonly List<(Parameter[] Parameters, Tensor Buffer)> _buckets = new();

    /// <summary>Plans the buckets and allocates their buffers.</summary>
    /// <param name="communicator">The ranks to reduce over.</param>
    /// <param name="parameters">Parameters whose gradients are reduced (the same list, in the same order, on every rank).</param>
    /// <param name="bucketBytes">Largest bucket in bytes (a larger single parameter gets its own). Default 32 MiB.</param>
    public GradientAllReducer(ICommunicator communicator, IEnumerable<Parameter> parameters, long bucketBytes = 32L << 20)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketBytes, 1, nameof(bucketBytes));
        _communicator = communicator;
        if (communicator.Size == 1) return;
        var current = new List<Parameter>();
        long bytes = 0;
        foreach (var p in parameters.Where(p => p.requires_grad))
        {
            long size = p.numel() * p.ElementSize;
            if (current.Count > 0 && (current[0].dtype != p.dtype || bytes + size > bucketBytes))
            {
                Close(current);
                bytes = 0;
            }
            current.Add(p);
            bytes += size;
        }
        if (current.Count > 0) Close(current);
    }

    /// <summary>Buckets (one all-reduce each per <see cref="AllReduce"/>).</summary>
    public int BucketCount => _buckets.Count;

    /// <summary>Replaces every gradient by its sum over the ranks.</summary>
    public void AllReduce()
    {
        if (_communicator.Size == 1) return;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (parameters, buffer) in _buckets)
        {
            var grads = parameters.Select(p => p.grad).ToArray();
            long offset = 0;
            for (int i = 0; i < parameters.Length; i++)
            {
                long n = parameters[i].numel();
                var slice = buffer.narrow(0, offset, n);
                if (grads[i] is { } g) slice.copy_(g.reshape(-1));
                else slice.zero_();
                offset += n;
            }
            _communicator.AllReduce(buffer);
            offset = 0;
            for (int i = 0; i < parameters.Length; i++)
            {
                long n = parameters[i].numel();
                grads[i]?.copy_(buffer.narrow(0, offset, n).view(grads[i]!.shape));
                offset += n;
            }
        }
    }

    private void Close(List<Parameter> parameters)
    {
        long total = parameters.Sum(p => p.numel());
        var buffer = zeros(total, dtype: parameters[0].dtype, device: CPU);
        buffer.DetachFromDisposeScope();
        _buckets.Add((parameters.ToArray(), buffer));
        parameters.Clear();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var (_, buffer) in _buckets) buffer.Dispose();
        _buckets.Clear();
    }
}
