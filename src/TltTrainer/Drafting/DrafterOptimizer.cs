// AdamW for the drafter (decoupled weight decay, bias-corrected moments, as torch.optim.AdamW), written here
// because the drafter trains on idle workers while other threads decode: TorchSharp's own AdamW hands the
// native ops Scalars it creates implicitly and does not keep alive, and a collection triggered by another
// thread mid-call finalizes one ("Expected false to be true" in c10::Scalar::toFloat within a few hundred
// steps under GC pressure). Every Scalar here lives in a field or a using variable until its op has run.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TltTrainer.Drafting;

internal sealed class DrafterOptimizer : IDisposable
{
    private readonly Parameter[] _parameters;
    private readonly Tensor[] _m, _v;
    private readonly double _beta1, _beta2, _weightDecay;
    private readonly Scalar _beta1Scalar, _beta2Scalar, _oneMinusBeta1, _oneMinusBeta2, _eps;
    private int _t;

    public DrafterOptimizer(IEnumerable<Parameter> parameters, double beta1, double beta2, double weightDecay, double eps = 1e-8)
    {
        _parameters = parameters.Where(p => p.requires_grad).ToArray();
        (_beta1, _beta2, _weightDecay) = (beta1, beta2, weightDecay);
        (_beta1Scalar, _beta2Scalar) = (beta1.ToScalar(), beta2.ToScalar());
        (_oneMinusBeta1, _oneMinusBeta2, _eps) = ((1 - beta1).ToScalar(), (1 - beta2).ToScalar(), eps.ToScalar());
        using var noGrad = no_grad();
        _m = _parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        _v = _parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
    }

    /// <summary>Learning rate of the next step.</summary>
    public double LearningRate { get; set; } = 1e-3;

    /// <summary>Clears the parameters' gradients.</summary>
    public void ZeroGrad()
    {
        using var scope = NewDisposeScope();
        foreach (var p in _parameters) p.grad?.zero_();
    }

    /// <summary>One AdamW step from the parameters' gradients (parameters without a gradient are left alone).</summary>
    public void Step()
    {
        _t++;
        double bias1 = 1 - Math.Pow(_beta1, _t), bias2 = 1 - Math.Pow(_beta2, _t);
        using Scalar decay = (1 - LearningRate * _weightDecay).ToScalar(), step = (-LearningRate / bias1).ToScalar(), root2 = Math.Sqrt(bias2).ToScalar();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        for (int i = 0; i < _parameters.Length; i++)
        {
            var p = _parameters[i];
            var g = p.grad;
            if (g is null) continue;
            p.mul_(decay);
            _m[i].mul_(_beta1Scalar).add_(g, _oneMinusBeta1);
            _v[i].mul_(_beta2Scalar).addcmul_(g, g, _oneMinusBeta2);
            var denominator = _v[i].sqrt().div_(root2).add_(_eps, Models.RootedScalars.One);
            p.addcdiv_(_m[i], denominator, step);
        }
    }

    public void Dispose()
    {
        foreach (var t in _m.Concat(_v)) t.Dispose();
        foreach (var s in new[] { _beta1Scalar, _beta2Scalar, _oneMinusBeta1, _oneMinusBeta2, _eps }) s.Dispose();
    }
}
