// SamplingNoise on tensors: the uniforms of every token of N positions at once, [N, V] float64, bit for bit
// the host's (SplitMix64's finalizer in int64 arithmetic: multiplication wraps as the host's ulong arithmetic
// does; right shifts are made logical by masking off the sign-extended bits). Constants are tensors made per
// call inside the caller's dispose scope (no implicit Scalars: see Models.RootedScalars).
using static TorchSharp.torch;

namespace TltTrainer.Sampling;

internal static class NoiseTensors
{
    /// <summary>
    /// Uniforms <c>[N, V]</c> float64 at the <paramref name="noise"/> positions of tokens <c>0..V−1</c>, or of the token ids
    /// <paramref name="tokenIds"/>: <c>[V]</c> int64 shared by the rows (a reduced draft vocabulary's columns, drawn with their
    /// target ids' noise) or <c>[N, V]</c> per row (each row's most likely tokens).
    /// </summary>
    public static Tensor Uniforms(IReadOnlyList<SamplingNoise> noise, int vocab, Device device, Tensor? tokenIds = null)
    {
        var keys = tensor(noise.Select(n => unchecked((long)n.Key)).ToArray(), device: device).view(-1, 1);   // [N, 1]
        var ids = tokenIds ?? tensor(Enumerable.Range(0, vocab).Select(i => (long)i).ToArray(), device: device);
        var grid = ids.dim() == 2 ? ids : ids.view(1, -1);
        var z = keys.add(grid.mul(Constant(SamplingNoise.Golden, device)), Models.RootedScalars.One);   // [N, V], wrapping
        z = Mix(z, device);
        var top53 = LogicalShift(z, 11, device).to(ScalarType.Float64);
        return top53.add(Constant(0.5, device), Models.RootedScalars.One).mul(Constant(1.0 / (1UL << 53), device));
    }

    private static Tensor Mix(Tensor z, Device device)
    {
        z = z.bitwise_xor(LogicalShift(z, 30, device)).mul(Constant(SamplingNoise.Mix1, device));
        z = z.bitwise_xor(LogicalShift(z, 27, device)).mul(Constant(SamplingNoise.Mix2, device));
        return z.bitwise_xor(LogicalShift(z, 31, device));
    }

    private static Tensor LogicalShift(Tensor z, int bits, Device device) =>
        z.bitwise_right_shift(tensor((long)bits, device: device)).bitwise_and(tensor(long.MaxValue >> (bits - 1), device: device));

    private static Tensor Constant(ulong value, Device device) => tensor(unchecked((long)value), device: device);

    private static Tensor Constant(double value, Device device) => tensor(value, ScalarType.Float64, device);
}
