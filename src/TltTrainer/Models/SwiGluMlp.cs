using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TltTrainer.Models;

/// <summary>SwiGLU MLP: <c>down(silu(gate(x)) · up(x))</c>, HF names <c>gate_proj</c>, <c>up_proj</c>, <c>down_proj</c>.</summary>
public sealed class SwiGluMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear gate_proj;
    private readonly Linear up_proj;
    private readonly Linear down_proj;

    /// <summary>Creates the MLP for width <paramref name="hidden"/> and inner width <paramref name="intermediate"/>.</summary>
    public SwiGluMlp(int hidden, int intermediate) : base(nameof(SwiGluMlp))
    {
        gate_proj = nn.Linear(hidden, intermediate, hasBias: false);
        up_proj = nn.Linear(hidden, intermediate, hasBias: false);
        down_proj = nn.Linear(intermediate, hidden, hasBias: false);
        RegisterComponents();
    }

    /// <inheritdoc />
    /// <remarks>No dispose scope of its own (at decode sizes a scope per sub-module costs as much as the ops it frees): call it inside the caller's scope.</remarks>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();       // keeps the chained temporaries alive through the native calls
        return down_proj.forward(nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x)).MoveToOuterDisposeScope();
    }
}
