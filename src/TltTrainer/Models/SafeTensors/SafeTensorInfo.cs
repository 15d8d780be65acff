using static TorchSharp.torch;

namespace TltTrainer.Models.SafeTensors;

/// <summary>One tensor's entry in a safetensors header: what it is and where its bytes lie.</summary>
/// <param name="Name">The tensor's key, e.g. <c>model.embed_tokens.weight</c>.</param>
/// <param name="DType">The element type.</param>
/// <param name="Shape">The dimensions; empty for a scalar.</param>
/// <param name="Begin">The first byte, relative to the start of the data section.</param>
/// <param name="End">One past the last byte, relative to the start of the data section.</param>
public sealed record SafeTensorInfo(string Name, ScalarType DType, IReadOnlyList<long> Shape, long Begin, long End)
{
    /// <summary>The number of bytes the tensor occupies: <c>End - Begin</c>.</summary>
    public long ByteLength => End - Begin;
}
