// Named model shapes. Tiny is for unit tests (milliseconds per forward); EmbeddedDefault is the deep,
// narrow target of the built-in long-tail task: on CPU a decode step costs roughly per layer (per-op
// overhead dominates), so 16 narrow layers keep a one-layer drafter at about a tenth of a target forward,
// nearer a 28-layer policy with a one-layer drafter. The earlier 8 layers of width 192 (same ~3 M parameters)
// left speculation unable to pay in the RL job: a drafter step cost ~0.2 of a target step and verifying 7 tokens
// at running batch 4 about 1.9 plain steps, so the job's best arm gained 1.15-1.3x where the tail runs; at 16 x 128
// a plain step at batch 4 costs 1.5x as much and verification 1.7 of it (docs/benchmarks.md, session 6).
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

    /// <summary>The embedded default target: 16 layers, width 128 (4 heads of 32, 2 KV heads), about 3 M parameters.</summary>
    public static TransformerConfig EmbeddedDefault { get; } = new TransformerConfig
    {
        VocabSize = 32, HiddenSize = 128, IntermediateSize = 384, NumLayers = 16, NumHeads = 4, NumKvHeadsRaw = 2,
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
