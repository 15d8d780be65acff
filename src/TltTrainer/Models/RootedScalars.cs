// TorchSharp 0.107 turns numbers into Scalar objects implicitly (the alpha of tensor + tensor, a constant
// added to a tensor) and passes their native handles on without keeping the objects alive, so a collection
// triggered on another thread during the native call can finalize one mid-use: the op then reads freed
// memory ("Expected false to be true" in c10::Scalar::toFloat, seen once in ~1,500 HfRl steps with two
// rollout workers and idle drafter training). Scalars held by a static field are never finalized; the
// forward passes that run millions of times use these instead of implicit ones.
using TorchSharp;

namespace TltTrainer.Models;

internal static class RootedScalars
{
    /// <summary>1, the alpha of an addition.</summary>
    public static readonly Scalar One = 1;
}
