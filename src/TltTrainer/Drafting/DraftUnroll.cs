// Multi-step unrolled drafter training (EAGLE-3's "training-time test"): when drafting, step s of a chain
// started at position t feeds the drafter its own predicted feature of step s − 1, and attends to the
// true pairs up to t plus its own chain's earlier steps. Training only on true features (teacher forcing)
// never shows the drafter its own errors, so acceptance decays along the chain. Unrolled training runs
// step s over the concatenation of s segments (segment 1: the true pairs; segment s': the pairs whose
// feature is the prediction of segment s' − 1 at the previous position) with a mask that gives each query
// exactly what drafting gives it: at pair i of segment s (a chain started at t = i − s + 1) it sees segment 1
// pairs of its own packed sample up to t, and in each segment s' in [2, s] only pair i − (s − s'). RoPE
// positions are the pair indices in every segment, as in drafting.
using static TorchSharp.torch;

namespace TltTrainer.Drafting;

/// <summary>Masks and loss masks of unrolled drafter training (see the file header).</summary>
internal static class DraftUnroll
{
    /// <summary>
    /// The attention mask <c>[B, s·T, s·T]</c> (bool) over <paramref name="segments"/> concatenated segments, and the pairs of the last
    /// segment that are a real step of a chain inside one sample <c>[B, T]</c> (float), from each pair's position within its packed
    /// sample <paramref name="positions"/> <c>[B, T]</c>.
    /// </summary>
    public static (Tensor Mask, Tensor Valid) Build(Tensor positions, int segments, Device device)
    {
        int b = (int)positions.shape[0], t = (int)positions.shape[1], width = segments * t;
        long[] pos;
        using (var host = positions.to(ScalarType.Int64).cpu()) pos = host.data<long>().ToArray();
        var mask = new bool[b * width * width];
        var valid = new float[b * t];
        for (int r = 0; r < b; r++)
            for (int s = 1; s <= segments; s++)
                for (int i = 0; i < t; i++)
                {
                    long start = i - pos[r * t + i];                    // first pair of i's packed sample
                    long row = ((long)r * width + (s - 1) * t + i) * width;
                    for (long j = start; j <= i - (s - 1); j++) mask[row + j] = true;                  // segment 1: the chain's true prefix
                    for (int sp = 2; sp <= s; sp++)
                    {
                        int j = i - (s - sp);
                        if (j >= start) mask[row + (sp - 1) * t + j] = true;                         // the chain's own step sp
                    }
                    if (s == segments) valid[r * t + i] = i - (s - 1) >= start ? 1f : 0f;
                }
        return (tensor(mask, new long[] { b, width, width }, device: device), tensor(valid, new long[] { b, t }, device: device));
    }

    /// <summary>
    /// Features of the next segment <c>[B, T, H]</c>: at pair i the previous segment's prediction at pair i − 1 (its prediction of h_i);
    /// pair 0 gets zeros (never a valid step).
    /// </summary>
    public static Tensor ShiftFeatures(Tensor predicted) =>
        nn.functional.pad(predicted.narrow(1, 0, predicted.shape[1] - 1), new long[] { 0, 0, 1, 0 });
}
