// Which managed element types the collectives reduce, in one place for the MPI binding and the
// single-process fallback (so a type that fails under mpirun also fails in one process).
namespace TltTrainer.Distributed;

/// <summary>Element types the reductions support.</summary>
internal enum ElementKind
{
    Float32,
    Float64,
    Int32,
    Int64,
    Byte,
}

internal static class MpiTypes
{
    public static ElementKind RequireReducible<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return ElementKind.Float32;
        if (typeof(T) == typeof(double)) return ElementKind.Float64;
        if (typeof(T) == typeof(int)) return ElementKind.Int32;
        if (typeof(T) == typeof(long)) return ElementKind.Int64;
        if (typeof(T) == typeof(byte)) return ElementKind.Byte;
        throw new NotSupportedException($"reductions support float, double, int, long and byte elements, not {typeof(T).Name}.");
    }
}
