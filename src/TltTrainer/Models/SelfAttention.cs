// Grouped-query self-attention with RoPE. GQA without copying K/V: the query heads that share a KV
// head are folded into the query length ([B, kvHeads, rep·T, D]), so one SDPA call over the KV heads
// covers them all. The mask is always explicit: with a KV cache SDPA's is_causal aligns wrongly.
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TltTrainer.Models;

/// <summary>Self-attention block with HF names <c>q_proj</c>, <c>k_proj</c>, <c>v_proj</c>, <c>o_proj</c>.</summary>
public sealed class SelfAttention : nn.Module
{
    private readonly int _heads, _kvHeads, _headDim, _layer;
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear o_proj;

    /// <summary>Creates the block for layer index <paramref name="layer"/> (its slot in the KV cache).</summary>
    public SelfAttention(TransformerConfig config, int layer) : base(nameof(SelfAttention))
    {
        _heads = config.NumHeads;
        _kvHeads = config.NumKvHeads;
        _headDim = config.HeadDim;
        _layer = layer;
        bool bias = config.HasQkvBias;
        q_proj = nn.Linear(config.HiddenSize, _heads * _headDim, hasBias: bias);
        k_proj = nn.Linear(config.HiddenSize, _kvHeads * _headDim, hasBias: bias);
        v_proj = nn.Linear(config.HiddenSize, _kvHeads * _headDim, hasBias: bias);
        o_proj = nn.Linear(_heads * _headDim, config.HiddenSize, hasBias: false);
        RegisterComponents();
    }

    /// <summary>Attends <paramref name="x"/> <c>[B, T, H]</c> over the context's keys; returns <c>[B, T, H]</c>.</summary>
    internal Tensor Forward(Tensor x, AttentionContext ctx)
    {
        // No dispose scope here: the model's forward holds one for all layers.
        long B = ctx.Batch, T = ctx.NewTokens, rep = _heads / _kvHeads;
        var q = RotaryEmbedding.Apply(q_proj.forward(x).view(B, T, _heads, _headDim), ctx.Cos, ctx.Sin);
        var k = RotaryEmbedding.Apply(k_proj.forward(x).view(B, T, _kvHeads, _headDim), ctx.Cos, ctx.Sin);
        var v = v_proj.forward(x).view(B, T, _kvHeads, _headDim);
        Tensor kHeads, vHeads;                                                             // [B, kv, S, D]
        if (ctx.Cache is not null)
        {
            ctx.Cache.Write(_layer, k, v, ctx.WriteRows!, ctx.WriteSlots!);
            (kHeads, vHeads) = ctx.Cache.Read(_layer, ctx.RowOffset, (int)B, ctx.KeyLength);   // head-major: no gather
        }
        else
        {
            kHeads = k.permute(0, 2, 1, 3);
            vHeads = v.permute(0, 2, 1, 3);
        }
        // [B, T, H, D] → [B, kv, rep·T, D]; query head h uses KV head h / rep.
        var qFolded = q.permute(0, 2, 1, 3).reshape(B, _kvHeads, rep * T, _headDim);
        var attended = nn.functional.scaled_dot_product_attention(qFolded, kHeads, vHeads, ctx.Mask, 0.0, false);
        var merged = attended.view(B, _heads, T, _headDim).permute(0, 2, 1, 3).reshape(B, T, _heads * _headDim);
        return o_proj.forward(merged);
    }
}
