// AdamW (decoupled weight decay, bias-corrected moments, as torch.optim.AdamW) for the policy and the drafter,
// written here because both train while other threads allocate (rollout workers, idle drafter training, a test
// host's other tests): TorchSharp's own AdamW hands the native ops Scalars it creates implicitly and does not keep
// alive, and a collection triggered by another thread mid-call finalizes one ("Expected false to be true" in
// c10::Scalar::toFloat within a few hundred drafter steps; "Unknown scalar type" in AdamW.step of an RL update
// while other tests ran). Every Scalar here lives in a field or a using variable until its op has run.
// Its state (step count, both moments of every parameter, float32) is saved in a small binary format of its own,
// checked on load against the parameters it is loaded into.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TltTrainer.Optimization;

internal sealed class RootedAdamW : IDisposable
{
    private readonly Parameter[] _parameters;
    private readonly Tensor[] _m, _v;
    private readonly double _beta1, _beta2, _weightDecay;
    private readonly Scalar _beta1Scalar, _beta2Scalar, _oneMinusBeta1, _oneMinusBeta2, _eps;
    private int _t;

    public RootedAdamW(IEnumerable<Parameter> parameters, double beta1, double beta2, double weightDecay, double eps = 1e-8)
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

    /// <summary>Steps taken (the bias corrections' exponent).</summary>
    public int Steps => _t;

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

    private const string Magic = "TLT-ADAMW";
    private const int FormatVersion = 1;

    /// <summary>Writes the step count and both moments of every parameter (float32, in parameter order).</summary>
    public void Save(BinaryWriter writer)
    {
        writer.Write(Magic);
        writer.Write(FormatVersion);
        writer.Write(_t);
        writer.Write(_parameters.Length);
        for (int i = 0; i < _parameters.Length; i++)
        {
            writer.Write(_m[i].numel());
            foreach (var moment in new[] { _m[i], _v[i] })
            {
                using var host = moment.detach().to(ScalarType.Float32).cpu().contiguous();
                foreach (var x in host.data<float>()) writer.Write(x);
            }
        }
    }

    /// <summary>Restores a state written by <see cref="Save"/> for the same parameters.</summary>
    /// <exception cref="InvalidDataException">Not such a state (another format, e.g. an earlier version's TorchSharp optimizer file), or written for other parameters; the message says which.</exception>
    public void Load(BinaryReader reader)
    {
        string magic;
        try { magic = reader.ReadString(); }
        catch (Exception e) when (e is EndOfStreamException or IOException or FormatException) { magic = ""; }
        if (magic != Magic)
            throw new InvalidDataException("not a TltTrainer AdamW state (an optimizer file from before the library's own AdamW cannot be resumed; start from the policy weights instead).");
        int version = reader.ReadInt32();
        if (version != FormatVersion) throw new InvalidDataException($"AdamW state format {version}; this version reads format {FormatVersion}.");
        int steps = reader.ReadInt32(), count = reader.ReadInt32();
        if (steps < 0) throw new InvalidDataException($"AdamW state with {steps} steps.");
        if (count != _parameters.Length) throw new InvalidDataException($"AdamW state for {count} parameters; this model has {_parameters.Length}.");
        var values = new (float[] M, float[] V)[count];
        for (int i = 0; i < count; i++)
        {
            long n = reader.ReadInt64();
            if (n != _m[i].numel()) throw new InvalidDataException($"AdamW state: parameter {i} has {n} elements there and {_m[i].numel()} here.");
            values[i] = (ReadFloats(reader, n), ReadFloats(reader, n));
        }
        // Only a whole, valid state replaces the current one.
        using var noGrad = no_grad();
        for (int i = 0; i < count; i++)
        {
            using var m = tensor(values[i].M, _m[i].shape);
            using var v = tensor(values[i].V, _v[i].shape);
            _m[i].copy_(m);
            _v[i].copy_(v);
        }
        _t = steps;
    }

    private static float[] ReadFloats(BinaryReader reader, long n)
    {
        var result = new float[n];
        for (long k = 0; k < n; k++) result[k] = reader.ReadSingle();
        return result;
    }

    public void Dispose()
    {
        foreach (var t in _m.Concat(_v)) t.Dispose();
        foreach (var s in new[] { _beta1Scalar, _beta2Scalar, _oneMinusBeta1, _oneMinusBeta2, _eps }) s.Dispose();
    }
}
