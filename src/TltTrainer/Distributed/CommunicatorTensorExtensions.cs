// Collectives on tensors. A contiguous CPU tensor's `bytes` is a span over libtorch's own storage, so
// it is reduced or overwritten in place with no copy; any other tensor (a strided view, a GPU tensor)
// goes through a contiguous host copy that is written back. Reductions support float32/64, int32/64
// and uint8 tensors; broadcast and all-gather move any dtype as bytes.
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace TltTrainer.Distributed;

/// <summary>Tensor overloads of the <see cref="ICommunicator"/> collectives.</summary>
public static class CommunicatorTensorExtensions
{
    /// <summary>Combines <paramref name="tensor"/> element-wise over all ranks, in place.</summary>
    /// <exception cref="NotSupportedException">The dtype cannot be reduced (e.g. bfloat16: reduce a float32 copy).</exception>
    public static void AllReduce(this ICommunicator communicator, Tensor tensor, ReduceOperation operation = ReduceOperation.Sum)
    {
        if (communicator.Size == 1) return;
        var dtype = tensor.dtype;
        OnHost(tensor, writeBack: true, bytes =>
        {
            switch (dtype)
            {
                case ScalarType.Float32: communicator.AllReduce(MemoryMarshal.Cast<byte, float>(bytes), operation); break;
                case ScalarType.Float64: communicator.AllReduce(MemoryMarshal.Cast<byte, double>(bytes), operation); break;
                case ScalarType.Int32: communicator.AllReduce(MemoryMarshal.Cast<byte, int>(bytes), operation); break;
                case ScalarType.Int64: communicator.AllReduce(MemoryMarshal.Cast<byte, long>(bytes), operation); break;
                case ScalarType.Byte: communicator.AllReduce(bytes, operation); break;
                default: throw new NotSupportedException($"all-reduce of {dtype} tensors: supported are Float32, Float64, Int32, Int64, Byte.");
            }
        });
    }

    /// <summary>Overwrites <paramref name="tensor"/> on every rank with rank <paramref name="root"/>'s values (same shape and dtype everywhere).</summary>
    public static void Broadcast(this ICommunicator communicator, Tensor tensor, int root)
    {
        if (communicator.Size == 1) return;
        OnHost(tensor, writeBack: communicator.Rank != root, bytes => communicator.Broadcast(bytes, root));
    }

    /// <summary>Gathers every rank's <paramref name="send"/> into <paramref name="receive"/> (numel Size × send's, same dtype), rank 0's first.</summary>
    public static void AllGather(this ICommunicator communicator, Tensor send, Tensor receive)
    {
        if (send.dtype != receive.dtype) throw new ArgumentException($"receive is {receive.dtype} but send is {send.dtype}.", nameof(receive));
        if (receive.numel() != send.numel() * communicator.Size)
            throw new ArgumentException($"receive has {receive.numel()} elements; it needs Size × send = {communicator.Size} × {send.numel()}.", nameof(receive));
        bool sendDirect = IsHostContiguous(send);
        using var sendHost = sendDirect ? null : HostCopy(send);
        var sendTensor = sendHost ?? send;
        OnHost(receive, writeBack: true, r => communicator.AllGather<byte>(sendTensor.bytes, r));
    }

    /// <summary>Overwrites every parameter and buffer of <paramref name="module"/> with rank <paramref name="root"/>'s (replicas start identical).</summary>
    public static void Broadcast(this ICommunicator communicator, nn.Module module, int root = 0)
    {
        if (communicator.Size == 1) return;
        using var noGrad = no_grad();
        foreach (var (_, tensor) in module.state_dict()) communicator.Broadcast(tensor, root);
    }

    /// <summary>A contiguous CPU copy; the scope keeps the chain's temporaries alive until the next call has used them.</summary>
    private static Tensor HostCopy(Tensor tensor)
    {
        using var scope = NewDisposeScope();
        return tensor.detach().to(DeviceType.CPU).contiguous().clone().DetachFromDisposeScope();
    }

    private static bool IsHostContiguous(Tensor tensor) => tensor.device_type == DeviceType.CPU && tensor.is_contiguous();

    private delegate void SpanAction(Span<byte> bytes);

    private static void OnHost(Tensor tensor, bool writeBack, SpanAction action)
    {
        if (IsHostContiguous(tensor))
        {
            action(tensor.bytes);
            return;
        }
        using var host = HostCopy(tensor);
        action(host.bytes);
        if (!writeBack) return;
        using var noGrad = no_grad();
        tensor.copy_(host);
    }
}
