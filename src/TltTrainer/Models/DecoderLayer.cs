using static TorchSharp.torch;

namespace TltTrainer.Models;

/// <summary>
/// Pre-norm decoder layer: <c>x + attn(norm(x))</c>, then <c>+ mlp(norm(·))</c>. HF names <c>self_attn</c>, <c>mlp</c>,
/// <c>input_layernorm</c>, <c>post_attention_layernorm</c>. The EAGLE drafter reuses it without the input norm.
/// </summary>
public sealed class DecoderLayer : nn.Module
{
    private readonly RmsNorm? input_layernorm;
    private readonly SelfAttention self_attn;
    private readonly RmsNorm post_attention_layernorm;
    private readonly SwiGluMlp mlp;

    /// <summary>Creates layer <paramref name="layer"/>; <paramref name="inputNorm"/> = false drops the input norm (EAGLE).</summary>
    public DecoderLayer(TransformerConfig config, int layer, bool inputNorm = true) : base(nameof(DecoderLayer))
    {
        if (inputNorm) input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        self_attn = new SelfAttention(config, layer);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        mlp = new SwiGluMlp(config.HiddenSize, config.IntermediateSize);
        RegisterComponents();
    }

    /// <summary>Runs the layer on <c>[B, T, H]</c>.</summary>
    internal Tensor Forward(Tensor x, AttentionContext ctx)
    {
        // Runs inside the model's dispose scope (per-module scopes cost more than the ops they would free).
        var normed = input_layernorm is null ? x : input_layernorm.forward(x);
        var h = x.add(self_attn.Forward(normed, ctx), RootedScalars.One);
        return h.add(mlp.forward(post_attention_layernorm.forward(h)), RootedScalars.One);
    }
}
