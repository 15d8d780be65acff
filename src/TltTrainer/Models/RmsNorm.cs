using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TltTrainer.Models;

/// <summary>RMSNorm: <c>x / sqrt(mean(x²) + ε) · w</c>, computed in float32 and cast back (as HF Llama does for bf16).</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly double _eps;

    /// <summary>The learned scale, HF name <c>weight</c>.</summary>
    public Parameter weight;

    /// <summary>Creates a norm over the last dimension of width <paramref name="dim"/>.</summary>
    public RmsNorm(long dim, double eps) : base(nameof(RmsNorm))
    {
        _eps = eps;
        weight = nn.Parameter(ones(dim));
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var dtype = x.dtype;
        var xf = x.to(ScalarType.Float32);
        var normed = xf * (xf.pow(2).mean(new long[] { -1 }, keepdim: true) + _eps).rsqrt();
        return (normed.to(dtype) * weight).MoveToOuterDisposeScope();
    }
}
