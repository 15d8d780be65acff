// Named model shapes. Tiny is for unit tests (milliseconds per forward); EmbeddedDefault is the deep,
// narrow target of the built-in long-tail task: on CPU a decode step costs roughly per layer (per-op
// overhead dominates), so 8 narrow layers keep a one-layer drafter at about 1/8 of a target forward,
// mirroring a 28-layer 7B policy with a one-layer drafter.
namespace TltTrainer.Models;

/// <summary>Preset model configurations.</summary>
public static class TransformerPresets
{
    /// <summary>A 2-layer, width-32 model with GQA (4 query heads, 2 KV heads), vocabulary 64, for unit tests.</summary>
    public static TransformerConfig Tiny { get; } = new TransformerConfig
    {
        VocabSize = 64, HiddenSize = 32, IntermediateSize = 64, NumLayers = 2, NumHeads = 4, NumKvHeadsRaw = 2,
        MaxPositions = 256, RopeTheta = 10000, RmsNormEps = 1e-6, TieWordEmbeddings = true, TorchDtype = "float32",
    }.Validate("TransformerPresets.Tiny");

    /// <summary>The embedded default target: 8 layers, width 192 (6 heads of 32, 2 KV heads), about 3 M parameters.</summary>
    public static TransformerConfig EmbeddedDefault { get; } = new TransformerConfig
    {
        VocabSize = 32, HiddenSize = 192, IntermediateSize = 512, NumLayers = 8, NumHeads = 6, NumKvHeadsRaw = 2,
        MaxPositions = 1024, RopeTheta = 10000, RmsNormEps = 1e-6, TieWordEmbeddings = true, TorchDtype = "float32",
    }.Validate("TransformerPresets.EmbeddedDefault");

    /// <summary>The shape of TinyStories-656K (Llama, 2 layers, width 128, vocabulary 2048).</summary>
    public static TransformerConfig TinyStories656K { get; } = new TransformerConfig
    {
        VocabSize = 2048, HiddenSize = 128, IntermediateSize = 384, NumLayers = 2, NumHeads = 8, NumKvHeadsRaw = 4,
        MaxPositions = 512, RopeTheta = 10000, RmsNormEps = 1e-6, TieWordEmbeddings = true, BosTokenId = 1,
        EosTokenIds = new[] { 2 }, TorchDtype = "bfloat16",
    }.Validate("TransformerPresets.TinyStories656K");

    /// <summary>The shape of Qwen2.5-0.5B (24 layers, width 896, QKV bias, tied embeddings), e.g. for GPU benchmarks with random weights.</summary>
    public static TransformerConfig Qwen25_0_5B { get; } = new TransformerConfig
    {
        ModelType = "qwen2", VocabSize = 151936, HiddenSize = 896, IntermediateSize = 4864, NumLayers = 24, NumHeads = 14,
        NumKvHeadsRaw = 2, MaxPositions = 32768, RopeTheta = 1000000, RmsNormEps = 1e-6, TieWordEmbeddings = true,
        BosTokenId = 151643, EosTokenIds = new[] { 151643 }, TorchDtype = "bfloat16",
    }.Validate("TransformerPresets.Qwen25_0_5B");
}
