// The one way a row of logits comes to the host: the canonical path and the host-side reference sampling
// (TokenDistribution) read managed floats; everything else stays on the device (DeviceSampler).
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace TltTrainer.Sampling;

internal static class HostLogits
{
    /// <summary>The values of <paramref name="logits"/> as float32, in row-major order, copied to the host.</summary>
    public static float[] ToManaged(Tensor logits)
    {
        // Tensor.bytes reads host memory only: device tensors come over in one copy first.
        using var contiguous = logits.to(ScalarType.Float32).contiguous();
        using var host = contiguous.device_type == TorchSharp.DeviceType.CPU ? null : contiguous.cpu();
        return MemoryMarshal.Cast<byte, float>((host ?? contiguous).bytes).ToArray();
    }
}
