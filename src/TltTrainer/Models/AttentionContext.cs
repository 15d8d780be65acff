// Everything the layers of one forward share: RoPE cos/sin for the tokens' positions, the boolean
// attention mask over [prefix from the cache | new tokens], and where the new tokens go in the cache.
// Built once per forward so that each layer only does its own projections and attention.
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
    /// <summary>[B, 1, rep·T, S] bool, true = may attend (query rows repeated per query-head group).</summary>
    public required Tensor Mask { get; init; }
    public KvCache? Cache { get; init; }
    /// <summary>[B·T] int64 flat slot index (row·maxLength + slot) of each new token in the cache.</summary>
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
        var lengthT = tensor(lengths.Select(l => (long)l).ToArray(), device: device).view(batch, 1);   // [B, 1]
        var steps = arange(newTokens, ScalarType.Int64, device).view(1, newTokens);                      // [1, T]

        positions ??= lengthT + steps;
        if (positions.shape[0] != batch || positions.shape[1] != newTokens)
            throw new ArgumentException($"positions must be [{batch}, {newTokens}], got [{string.Join(", ", positions.shape)}].", nameof(positions));
        long maxPos = positions.max().item<long>();
        if (maxPos >= config.MaxPositions)
            throw new ArgumentOutOfRangeException(nameof(positions), maxPos, $"position exceeds max_position_embeddings ({config.MaxPositions}).");
        var (cos, sin) = rope.Gather(positions, dtype);

        newTokenMask ??= ones(newTokens, newTokens, ScalarType.Bool, device).tril().unsqueeze(0);       // [1, T, T]
        int window = (int)newTokenMask.shape[2];
        if (newTokenMask.dim() != 3 || newTokenMask.shape[1] != newTokens || window < newTokens || (newTokenMask.shape[0] != 1 && newTokenMask.shape[0] != batch))
            throw new ArgumentException($"newTokenMask must be [{batch} or 1, {newTokens}, W ≥ {newTokens}], got [{string.Join(", ", newTokenMask.shape)}].", nameof(newTokenMask));
        if (window > newTokens && (cache is null || lengths.Min() < window - newTokens))
            throw new ArgumentException($"a mask window of {window} needs at least {window - newTokens} cached tokens in every row.", nameof(newTokenMask));
        Tensor mask;
        if (cache is null)
        {
            mask = newTokenMask.expand(batch, newTokens, newTokens);
        }
        else
        {
            // Key slot s of row b is fully visible prefix (s < L_b + T − W), inside the masked window, or stale/empty.
            var slots = arange(keyLength, ScalarType.Int64, device).view(1, keyLength);                // [1, S]
            var relative = slots - (lengthT + (newTokens - window));                                      // [B, S]
            var isPrefix = relative.lt(0).unsqueeze(1);                                                   // [B, 1, S]
            var inWindow = relative.ge(0).logical_and(relative.lt(window)).unsqueeze(1);                  // [B, 1, S]
            var index = relative.clamp(0, window - 1).unsqueeze(1).expand(batch, newTokens, keyLength);
            var windowPart = newTokenMask.expand(batch, newTokens, window).gather(2, index);               // [B, T, S]
            mask = isPrefix.logical_or(inWindow.logical_and(windowPart));
        }
        // Fold query-head groups into the query length: [B, 1, rep·T, S].
        mask = mask.unsqueeze(1).unsqueeze(1).expand(batch, 1, rep, newTokens, keyLength).reshape(batch, 1, rep * newTokens, keyLength);

        Tensor? writeSlots = null;
        if (cache is not null)
        {
            var rows = arange(rowOffset, rowOffset + batch, ScalarType.Int64, device).view(batch, 1);
            writeSlots = (rows * cache.MaxLength + lengthT + steps).reshape(-1);
        }
        return new AttentionContext
        {
            Batch = batch, NewTokens = newTokens, KeyLength = cache is null ? newTokens : keyLength, RowOffset = rowOffset,
            Cos = cos, Sin = sin, Mask = mask, Cache = cache, WriteSlots = writeSlots,
        };
    }
}
