// Moves raw tensor bytes between a stream and a tensor's own storage, with no managed copy in between.
// TorchSharp's Tensor.bytes is a zero-copy span but an int-sized one, so tensors over the chunk size are
// visited as 1-D slices (narrow keeps them contiguous, and their spans start at the slice's offset).
using static TorchSharp.torch;

namespace TltTrainer.Models.SafeTensors;

internal static class TensorBytes
{
    /// <summary>Chunk size for large tensors: 1 GiB, well inside a span's int length.</summary>
    internal const long DefaultChunkBytes = 1L << 30;

    /// <summary>Fills contiguous CPU <paramref name="tensor"/> from the next bytes of <paramref name="stream"/>.</summary>
    internal static void ReadFrom(Stream stream, Tensor tensor, long chunkBytes = DefaultChunkBytes) =>
        Visit(tensor, chunkBytes, stream, static (s, span) => s.ReadExactly(span));

    /// <summary>Writes the bytes of contiguous CPU <paramref name="tensor"/> to <paramref name="stream"/>.</summary>
    internal static void WriteTo(Stream stream, Tensor tensor, long chunkBytes = DefaultChunkBytes) =>
        Visit(tensor, chunkBytes, stream, static (s, span) => s.Write(span));

    private delegate void SpanAction(Stream stream, Span<byte> span);

    private static void Visit(Tensor tensor, long chunkBytes, Stream stream, SpanAction action)
    {
        long count = tensor.NumberOfElements;
        long elementSize = tensor.ElementSize;
        if (count == 0)
            return;
        if (count * elementSize <= chunkBytes)
        {
            action(stream, tensor.bytes);
            return;
        }

        long perChunk = Math.Max(1, chunkBytes / elementSize);
        using Tensor flat = tensor.view(-1);
        for (long start = 0; start < count; start += perChunk)
        {
            using Tensor part = flat.narrow(0, start, Math.Min(perChunk, count - start));
            action(stream, part.bytes);
        }
    }
}
