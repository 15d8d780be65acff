using TltTrainer.Models;
using TltTrainer.Tasks;
using TorchSharp;

namespace TltTrainer.Tests.Tasks;

/// <summary>The KV-cached greedy loop against a naive full-forward loop (reference vs fast).</summary>
public sealed class GreedyDecoderTests
{
    private static readonly int[][] Prompts = { new[] { 1, 5, 9 }, new[] { 1, 7, 7, 3, 20, 11, 4 }, new[] { 1, 2, 8, 8, 30 }, new[] { 1 } };

    private static int[] NaiveGreedy(CausalLM model, int[] prompt, int maxNew, int eos)
    {
        var seq = prompt.ToList();
        var generated = new List<int>();
        while (generated.Count < maxNew)
        {
            using var scope = NewDisposeScope();
            using var output = model.Forward(tensor(seq.Select(t => (long)t).ToArray(), new long[] { 1, seq.Count }));
            int next = (int)output.Logits![0, seq.Count - 1].argmax().item<long>();
            generated.Add(next);
            seq.Add(next);
            if (next == eos) break;
        }
        return generated.ToArray();
    }

    [Fact]
    public void Generate_RaggedBatchWithEarlyStops_EqualsNaiveLoopPerPrompt()
    {
        using var model = new CausalLM(TransformerPresets.Tiny, seed: 11);
        using var noGrad = no_grad();
        // Choose as EOS a token one row emits midway, so rows leave the batch at different steps.
        var free = Prompts.Select(p => NaiveGreedy(model, p, 12, eos: -1)).ToArray();
        int eos = free[1][4];
        var expected = Prompts.Select(p => NaiveGreedy(model, p, 12, eos)).ToArray();
        Assert.Contains(expected, e => e.Length < 12);

        var actual = GreedyDecoder.Generate(model, Prompts, maxNewTokens: 12, eosId: eos);

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Generate_NoNewTokens_ReturnsEmpty()
    {
        using var model = new CausalLM(TransformerPresets.Tiny, seed: 1);
        Assert.All(GreedyDecoder.Generate(model, Prompts, 0, eosId: 2), Assert.Empty);
    }

    [Fact]
    public void Generate_EmptyPrompt_Throws()
    {
        using var model = new CausalLM(TransformerPresets.Tiny, seed: 1);
        Assert.Throws<ArgumentException>(() => GreedyDecoder.Generate(model, new[] { Array.Empty<int>() }, 4, eosId: 2));
    }

    [Fact]
    public void Generate_Cancelled_Throws()
    {
        using var model = new CausalLM(TransformerPresets.Tiny, seed: 1);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => GreedyDecoder.Generate(model, Prompts, 8, eosId: 2, cancellationToken: cts.Token));
    }

    [Fact]
    public void Generate_LiveTensorCountReturnsToBaseline()
    {
        using var model = new CausalLM(TransformerPresets.Tiny, seed: 1);
        GreedyDecoder.Generate(model, Prompts, 4, eosId: -1);   // warm-up creates the RoPE tables (long-lived by design)
        long baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        GreedyDecoder.Generate(model, Prompts, 30, eosId: -1);
        Assert.Equal(baseline, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
