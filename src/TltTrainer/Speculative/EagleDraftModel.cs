// The EAGLE-style drafter network: the input at position t is FC([embed(x_{t+1}); h_t]) (2H → H, no
// bias), then one decoder layer without input norm and without final norm; its output predicts the
// target's next hidden state h_{t+1}, and logits come from the target's own lm_head. Embedding and head
// are the target's (shared, frozen, so they follow the policy after every update); only fc and the
// layer are this module's parameters. The same Forward serves training and drafting: one definition.
using TltTrainer.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TltTrainer.Speculative;

/// <summary>The trainable part of the EAGLE drafter: <c>fc</c> and one decoder layer (<c>layers.0</c>).</summary>
public sealed class EagleDraftModel : nn.Module
{
    private readonly Linear fc;
    private readonly ModuleList<DecoderLayer> layers;
    private readonly RotaryEmbedding _rope;

    /// <summary>Creates a drafter for a target of shape <paramref name="targetConfig"/> (same width, heads and MLP).</summary>
    public EagleDraftModel(TransformerConfig targetConfig, long? seed = null) : base(nameof(EagleDraftModel))
    {
        Config = targetConfig with { NumLayers = 1 };
        fc = nn.Linear(2L * Config.HiddenSize, Config.HiddenSize, hasBias: false);
        layers = nn.ModuleList(new DecoderLayer(Config, 0, inputNorm: false));
        _rope = new RotaryEmbedding(Config.HeadDim, Config.MaxPositions, Config.RopeTheta);
        RegisterComponents();
        using var noGrad = no_grad();
        using var generator = seed is null ? null : new Generator((ulong)seed.Value);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("layernorm.weight", StringComparison.Ordinal)) p.fill_(1.0);
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            else p.normal_(0.0, 0.02, generator);
        }
    }

    /// <summary>Shape of the drafter's layer (the target's, with one layer); also the shape of its KV cache.</summary>
    public TransformerConfig Config { get; }

    /// <summary>
    /// Predicts next hidden states <c>[B, T, H]</c> from next-token embeddings <c>[B, T, H]</c> and target (or drafted) hidden
    /// states <c>[B, T, H]</c>; cache, positions and mask as in <see cref="CausalLM.Forward"/>.
    /// </summary>
    public Tensor Forward(Tensor nextTokenEmbeddings, Tensor hidden, KvCache? cache = null, int rowOffset = 0,
        Tensor? positions = null, Tensor? newTokenMask = null)
    {
        using var scope = NewDisposeScope();
        int B = (int)hidden.shape[0], T = (int)hidden.shape[1];
        var dtype = fc.weight!.dtype;
        var ctx = AttentionContext.Create(Config, _rope, B, T, hidden.device, dtype, cache, rowOffset, positions, newTokenMask);
        var x = fc.forward(cat(new[] { nextTokenEmbeddings.to(dtype), hidden.to(dtype) }, -1));
        var output = layers[0].Forward(x, ctx);
        cache?.Advance(rowOffset, B, T);
        return output.MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) _rope.Dispose();
        base.Dispose(disposing);
    }
}
