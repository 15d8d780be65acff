using TltTrainer.Models;

namespace TltTrainer.Tests.Models;

/// <summary>State-dict keys and shapes follow HuggingFace naming (snapshot, no weights needed).</summary>
public sealed class CausalLMShapeTests
{
    [Fact]
    public void StateDict_TinyStoriesShape_MatchesHfNamesAndShapes()
    {
        using var model = new CausalLM(TransformerPresets.TinyStories656K);
        var actual = model.state_dict().Select(kv => $"{kv.Key} [{string.Join(",", kv.Value.shape)}]").OrderBy(s => s, StringComparer.Ordinal).ToArray();
        var layer = new[]
        {
            "input_layernorm.weight [128]", "mlp.down_proj.weight [128,384]", "mlp.gate_proj.weight [384,128]",
            "mlp.up_proj.weight [384,128]", "post_attention_layernorm.weight [128]", "self_attn.k_proj.weight [64,128]",
            "self_attn.o_proj.weight [128,128]", "self_attn.q_proj.weight [128,128]", "self_attn.v_proj.weight [64,128]",
        };
        var expected = new[] { "model.embed_tokens.weight [2048,128]", "model.norm.weight [128]" }
            .Concat(Enumerable.Range(0, 2).SelectMany(i => layer.Select(k => $"model.layers.{i}.{k}")))
            .OrderBy(s => s, StringComparer.Ordinal).ToArray();
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void StateDict_UntiedWithQkvBias_HasLmHeadAndBiases()
    {
        var config = TransformerPresets.Tiny with { ModelType = "qwen2", TieWordEmbeddings = false };
        using var model = new CausalLM(config);
        var keys = model.state_dict().Keys.ToHashSet();
        Assert.Contains("lm_head.weight", keys);
        Assert.Contains("model.layers.1.self_attn.q_proj.bias", keys);
        Assert.Contains("model.layers.1.self_attn.v_proj.bias", keys);
        Assert.DoesNotContain("model.layers.1.self_attn.o_proj.bias", keys);
    }

    [Fact]
    public void Qwen25Preset_ParameterCount_IsAboutHalfABillion()
    {
        var c = TransformerPresets.Qwen25_0_5B;
        long perLayer = (long)c.HiddenSize * c.HeadDim * (c.NumHeads * 2 + c.NumKvHeads * 2) + c.HeadDim * (c.NumHeads + 2 * c.NumKvHeads)
            + 3L * c.HiddenSize * c.IntermediateSize + 2L * c.HiddenSize;
        long total = perLayer * c.NumLayers + (long)c.VocabSize * c.HiddenSize + c.HiddenSize;
        Assert.InRange(total, 490_000_000, 500_000_000);   // HF reports 494 M
    }
}
