// Everything the layers of one forward share: RoPE cos/sin for the tokens' positions, the boolean
// attention mask over [prefix from the cache | new tokens], and where the new tokens go in the cache.
// Built once per forward so that each layer only does its own projections and attention.
using TorchSharp;
using static TorchSharp.torch;

namespace TltTrainer.Models;

/// <summary>Per-forward attention inputs shared by every layer (internal plumbing of <see cref="CausalLM"/>).</summary>
internal sealed class AttentionContext
{
    public required int Batch { get; init; }
    public required int NewTokens { get; init; }
    /// <summary>Keys visible to this forward: max cached length + new tokens (or new tokens without a cache).</summary>
    public required int KeyLength { get; init; }
    public required int RowOffset { get; init; }
    public required Tensor Cos { get; init; }
    public required Tensor Sin { get; init; }
    /// <summary>[B, 1, rep·T, S]: bool (true = may attend) without a cache, additive in the model dtype (0 or −inf) with one; query rows repeated per query-head group; null = every key visible.</summary>
    public required Tensor? Mask { get; init; }
    public KvCache? Cache { get; init; }
    /// <summary>[B·T] int64 cache row of each new token.</summary>
    public Tensor? WriteRows { get; init; }
    /// <summary>[B·T] int64 cache slot (position in its row) of each new token.</summary>
    public Tensor? WriteSlots { get; init; }

    /// <summary>
    /// Builds the context. Must run inside the caller's dispose scope; every tensor it makes dies with that scope.
    /// </summary>
    /// <param name="positions">[B, T] int64 RoPE positions, or null for "cached length + index".</param>
    /// <param name="newTokenMask">[B or 1, T, W] bool with W ≥ T: query j may attend key slot i of the last W slots
    /// (the W − T most recently cached ones, then the T new ones); slots before those are fully visible. Null = causal over the new tokens.</param>
    public static AttentionContext Create(TransformerConfig config, RotaryEmbedding rope, int batch, int newTokens,
        Device device, ScalarType dtype, KvCache? cache, int rowOffset, Tensor? positions, Tensor? newTokenMask)
    {
        int rep = config.NumHeads / config.NumKvHeads;
        int[] lengths = cache?.Lengths(rowOffset, batch) ?? new int[batch];
        int maxLength = lengths.Max();
        if (cache is not null && maxLength + newTokens > cache.MaxLength)
            throw new InvalidOperationException($"KV cache overflow: {maxLength} cached + {newTokens} new tokens exceed its capacity of {cache.MaxLength}.");
        int keyLength = maxLength + newTokens;
        if (positions is not null && (positions.shape[0] != batch || positions.shape[1] != newTokens))
            throw new ArgumentException($"positions must be [{batch}, {newTokens}], got [{string.Join(", ", positions.shape)}].", nameof(positions));
        if (newTokenMask is not null)
        {
            int w = (int)newTokenMask.shape[^1];
            if (newTokenMask.dim() != 3 || newTokenMask.shape[1] != newTokens || w < newTokens || (newTokenMask.shape[0] != 1 && newTokenMask.shape[0] != batch))
                throw new ArgumentException($"newTokenMask must be [{batch} or 1, {newTokens}, W ≥ {newTokens}], got [{string.Join(", ", newTokenMask.shape)}].", nameof(newTokenMask));
            if (w > newTokens && (cache is null || lengths.Min() < w - newTokens))
                throw new ArgumentException($"a mask window of {w} needs at least {w - newTokens} cached tokens in every row.", nameof(newTokenMask));
        }
        return cache is null
            ? Uncached(config, rope, batch, newTokens, device, dtype, rep, positions, newTokenMask)
            : Cached(config, rope, batch, newTokens, device, dtype, rep, cache, rowOffset, lengths, keyLength, positions, newTokenMask);
    }

    // Decode, prefill and verification: small per-forward index tensors, so they are built on the host and uploaded
    // once each (a chain of tensor ops here cost about as much as a whole drafter layer at running batch 1).
    private static AttentionContext Cached(TransformerConfig config, RotaryEmbedding rope, int batch, int newTokens, Device device,
        ScalarType dtype, int rep, KvCache cache, int rowOffset, int[] lengths, int keyLength, Tensor? positions, Tensor? newTokenMask)
    {
        if (positions is null)
        {
            CheckMaxPosition(config, keyLength - 1);                          // the longest row's last new token, known here
            positions = tensor(HostPositions(lengths, newTokens), new long[] { batch, newTokens }, device: device);
        }
        else CheckMaxPosition(config, positions);
        var (cos, sin) = rope.Gather(positions, dtype);

        var rows = new long[batch * newTokens];
        var slots = new long[batch * newTokens];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < newTokens; t++) (rows[b * newTokens + t], slots[b * newTokens + t]) = (rowOffset + b, lengths[b] + t);

        Tensor? mask;
        long elements = (long)batch * rep * newTokens * keyLength;
        if (newTokens > HostMaskMaxNewTokens || elements > HostMaskMaxElements)
        {
            mask = DeviceMask(batch, newTokens, rep, keyLength, lengths, newTokenMask, device);   // long prefills
        }
        else
        {
            var visible = HostMask(batch, newTokens, rep, keyLength, lengths, newTokenMask, out bool allVisible);
            // Every key visible (e.g. one token per row, equal lengths): no mask at all, which SDPA handles fastest.
            mask = allVisible ? null : AdditiveMask(visible, new long[] { batch, 1, rep * newTokens, keyLength }, dtype, device);
        }
        return new AttentionContext
        {
            Batch = batch, NewTokens = newTokens, KeyLength = keyLength, RowOffset = rowOffset, Cos = cos, Sin = sin,
            Mask = mask, Cache = cache, WriteRows = tensor(rows, device: device), WriteSlots = tensor(slots, device: device),
        };
    }

    // Decode, verification and drafter steps (a few new tokens per row) build their mask on the host; a long prefill
    // would make that array (and its float form) large, e.g. 8 prompts of 1024 tokens with 7 query heads per KV head
    // are 59 M entries, so those keep the boolean mask built by tensor ops on the model's device.
    private const int HostMaskMaxNewTokens = 64;
    private const long HostMaskMaxElements = 1L << 22;

    private static Tensor DeviceMask(int batch, int newTokens, int rep, int keyLength, int[] lengths, Tensor? newTokenMask, Device device)
    {
        newTokenMask ??= CausalMask(newTokens, device);
        int window = (int)newTokenMask.shape[2];
        // Every Scalar handed to an op is held in a using variable until the op has run (see RootedScalars).
        using Scalar zero = 0L.ToScalar(), last = ((long)window - 1).ToScalar(), width = ((long)window).ToScalar();
        var windowStart = tensor(lengths.Select(l => (long)(l + newTokens - window)).ToArray(), device: device).view(batch, 1);   // [B, 1]
        // Key slot s of row b is fully visible prefix (s < L_b + T − W), inside the masked window, or stale/empty.
        var slots = Range(keyLength, device).view(1, keyLength);                                        // [1, S]
        var relative = slots.sub(windowStart);                                                           // [B, S]
        var isPrefix = relative.lt(zero).unsqueeze(1);                                                  // [B, 1, S]
        var inWindow = relative.ge(zero).logical_and(relative.lt(width)).unsqueeze(1);                  // [B, 1, S]
        var index = relative.clamp(zero, last).unsqueeze(1).expand(batch, newTokens, keyLength);
        var windowPart = newTokenMask.to(device).expand(batch, newTokens, window).gather(2, index);       // [B, T, S]
        return FoldQueryGroups(isPrefix.logical_or(inWindow.logical_and(windowPart)), rep);
    }

    /// <summary>[n] int64 0, 1, …, n − 1, from a host array (arange would take an implicit Scalar; see RootedScalars).</summary>
    private static Tensor Range(int n, Device device)
    {
        var values = new long[n];
        for (int i = 0; i < n; i++) values[i] = i;
        return tensor(values, device: device);
    }

    /// <summary>[1, T, T] bool, lower triangular: each new token sees itself and the new tokens before it.</summary>
    private static Tensor CausalMask(int newTokens, Device device) => ones(newTokens, newTokens, ScalarType.Bool, device).tril().unsqueeze(0);

    /// <summary>[B, T, S] → [B, 1, rep·T, S]: the query heads sharing a KV head are folded into the query length (see SelfAttention).</summary>
    private static Tensor FoldQueryGroups(Tensor mask, int rep)
    {
        long batch = mask.shape[0], newTokens = mask.shape[1], keyLength = mask.shape[2];
        return mask.unsqueeze(1).unsqueeze(1).expand(batch, 1, rep, newTokens, keyLength).reshape(batch, 1, rep * newTokens, keyLength);
    }

    // SDPA on CPU converts a boolean mask to an additive one in every layer; handing it the additive form
    // (0 = may attend, −inf = may not) once per forward saves that work (a few microseconds a layer).
    private static Tensor AdditiveMask(bool[] visible, long[] shape, ScalarType dtype, Device device)
    {
        var additive = new float[visible.Length];
        for (int i = 0; i < visible.Length; i++) additive[i] = visible[i] ? 0f : float.NegativeInfinity;
        var mask = tensor(additive, shape, device: device);
        return dtype == ScalarType.Float32 ? mask : mask.to(dtype);
    }

    private static long[] HostPositions(int[] lengths, int newTokens)
    {
        var positions = new long[lengths.Length * newTokens];
        for (int b = 0; b < lengths.Length; b++)
            for (int t = 0; t < newTokens; t++) positions[b * newTokens + t] = lengths[b] + t;
        return positions;
    }

    /// <summary>
    /// [B, 1, rep·T, S] bool: key slot s of row b is visible to new token t if it lies in the fully visible prefix
    /// (s &lt; L_b + T − W), or inside the last-W window where the window mask allows it; slots past the row's end are not.
    /// </summary>
    private static bool[] HostMask(int batch, int newTokens, int rep, int keyLength, int[] lengths, Tensor? newTokenMask, out bool allVisible)
    {
        int window = newTokenMask is null ? newTokens : (int)newTokenMask.shape[2];
        bool[]? windowMask = null;
        bool shared = true;
        if (newTokenMask is not null)
        {
            using var host = newTokenMask.to(ScalarType.Bool, CPU).contiguous();
            windowMask = host.data<bool>().ToArray();
            shared = newTokenMask.shape[0] == 1;
        }
        var mask = new bool[batch * rep * newTokens * keyLength];
        allVisible = true;
        for (int b = 0; b < batch; b++)
        {
            int windowStart = lengths[b] + newTokens - window;
            int maskRow = shared ? 0 : b;
            for (int t = 0; t < newTokens; t++)
            {
                int o = (b * rep * newTokens + t) * keyLength;
                for (int s = 0; s < keyLength; s++)
                {
                    int relative = s - windowStart;
                    bool visible = relative < 0
                        || (relative < window && (windowMask is null ? relative <= t + window - newTokens : windowMask[(maskRow * newTokens + t) * window + relative]));
                    mask[o + s] = visible;
                    allVisible &= visible;
                }
                // The query-head groups of a KV head share the row: copy it into the rep − 1 other groups.
                for (int g = 1; g < rep; g++) Array.Copy(mask, o, mask, o + g * newTokens * keyLength, keyLength);
            }
        }
        return mask;
    }

    private static void CheckMaxPosition(TransformerConfig config, Tensor positions) => CheckMaxPosition(config, positions.max().item<long>());

    // Names "positions" (the caller's argument of CausalLM.Forward) whether the maximum came from it or from the cache lengths.
    private static void CheckMaxPosition(TransformerConfig config, long maxPos)
    {
        if (maxPos >= config.MaxPositions)
            throw new ArgumentOutOfRangeException("positions", maxPos, $"position exceeds max_position_embeddings ({config.MaxPositions}).");
    }

    // Training and scoring without a cache: the new tokens are the whole sequence.
    private static AttentionContext Uncached(TransformerConfig config, RotaryEmbedding rope, int batch, int newTokens, Device device,
        ScalarType dtype, int rep, Tensor? positions, Tensor? newTokenMask)
    {
        positions ??= Range(newTokens, device).view(1, newTokens).expand(batch, newTokens);
        CheckMaxPosition(config, positions);
        var (cos, sin) = rope.Gather(positions, dtype);
        var mask = FoldQueryGroups((newTokenMask ?? CausalMask(newTokens, device)).expand(batch, newTokens, newTokens), rep);
        return new AttentionContext
        {
            Batch = batch, NewTokens = newTokens, KeyLength = newTokens, RowOffset = 0, Cos = cos, Sin = sin, Mask = mask,
        };
    }
}
