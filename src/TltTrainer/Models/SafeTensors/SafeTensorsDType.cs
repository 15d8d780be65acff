// The safetensors dtype names this library supports, mapped to TorchSharp scalar types in one place.
// Sizes come from the format, not from TorchSharp, so a header can be validated before any tensor exists.
using static TorchSharp.torch;

namespace TltTrainer.Models.SafeTensors;

internal static class SafeTensorsDType
{
    /// <summary>The dtype names accepted in headers, for error messages.</summary>
    internal const string Supported = "F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL";

    internal static bool TryParse(string name, out ScalarType type)
    {
        (bool known, type) = name switch
        {
            "F64" => (true, ScalarType.Float64),
            "F32" => (true, ScalarType.Float32),
            "F16" => (true, ScalarType.Float16),
            "BF16" => (true, ScalarType.BFloat16),
            "I64" => (true, ScalarType.Int64),
            "I32" => (true, ScalarType.Int32),
            "I16" => (true, ScalarType.Int16),
            "I8" => (true, ScalarType.Int8),
            "U8" => (true, ScalarType.Byte),
            "BOOL" => (true, ScalarType.Bool),
            _ => (false, default),
        };
        return known;
    }

    /// <summary>The safetensors name of <paramref name="type"/>, or <see langword="null"/> if the format has none here.</summary>
    internal static string? NameOf(ScalarType type) => type switch
    {
        ScalarType.Float64 => "F64",
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => null,
    };

    internal static int SizeOf(ScalarType type) => type switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.Int8 or ScalarType.Byte or ScalarType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, $"Not a safetensors dtype; supported: {Supported}."),
    };
}
