using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TltTrainer.Models;

/// <summary>RMSNorm: <c>x / sqrt(mean(x²) + ε) · w</c>, computed in float32 and cast back (as HF Llama does for bf16).</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Scalar _eps;                  // held by the module, so no call site makes a Scalar the GC could finalize mid-call

    /// <summary>The learned scale, HF name <c>weight</c>.</summary>
    public Parameter weight;

    /// <summary>Creates a norm over the last dimension of width <paramref name="dim"/>.</summary>
    public RmsNorm(long dim, double eps) : base(nameof(RmsNorm))
    {
        _eps = eps.ToScalar();
        weight = nn.Parameter(ones(dim));
        RegisterComponents();
    }

    /// <inheritdoc />
    /// <remarks>No dispose scope of its own (at decode sizes a scope per sub-module costs as much as the ops it frees): call it inside the caller's scope.</remarks>
    public override Tensor forward(Tensor x)
    {
        // Own scope: a chained temporary outside any scope can be finalized while libtorch still reads it.
        using var scope = NewDisposeScope();
        // x·x, not square(): TorchSharp's square() passes an implicit Scalar exponent (see RootedScalars).
        if (x.dtype == ScalarType.Float32) return (x * x.mul(x).mean(new long[] { -1 }, keepdim: true).add(_eps, RootedScalars.One).rsqrt() * weight).MoveToOuterDisposeScope();
        var xf = x.to(ScalarType.Float32);
        return ((xf * xf.mul(xf).mean(new long[] { -1 }, keepdim: true).add(_eps, RootedScalars.One).rsqrt()).to(x.dtype) * weight).MoveToOuterDisposeScope();
    }
}
