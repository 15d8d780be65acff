using TltTrainer.Models;
using TorchSharp;

namespace TltTrainer.Tests.Models;

/// <summary>Long decode loops must not leak native tensors.</summary>
public sealed class CausalLMMemoryTests
{
    [Fact]
    public void Decode_1000Steps_LiveTensorCountReturnsToBaseline()
    {
        var config = TransformerPresets.Tiny with { MaxPositions = 1100 };
        using var model = new CausalLM(config, seed: 1);
        using var cache = new KvCache(config, rows: 2, maxLength: 1100, ScalarType.Float32);
        using var noGrad = no_grad();
        using var next = zeros(new long[] { 2, 1 }, ScalarType.Int64);
        // One warm-up step creates the RoPE tables (long-lived by design).
        using (model.Forward(next, cache)) { }
        long baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 1000; i++)
        {
            using var scope = NewDisposeScope();
            using var output = model.Forward(next, cache);
            next.copy_(output.Logits!.argmax(-1));
        }
        Assert.Equal(baseline, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
