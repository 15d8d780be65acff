using TltTrainer.Models;

namespace TltTrainer.Tests.Models;

/// <summary>Invariant 3: KV-cached decoding equals a full forward over the whole sequence.</summary>
public sealed class CausalLMCacheTests
{
    private const double Tolerance = 1e-4;

    public static TheoryData<string> Configs => new() { "tiny", "qwen-like" };

    internal static TransformerConfig ConfigByName(string name) => name switch
    {
        "tiny" => TransformerPresets.Tiny,
        // Untied head, QKV bias, no GQA grouping of 1: covers the other branches.
        "qwen-like" => TransformerPresets.Tiny with { ModelType = "qwen2", TieWordEmbeddings = false, NumHeads = 6, NumKvHeadsRaw = 3, HeadDimRaw = 8, RopeTheta = 1e6 },
        _ => throw new ArgumentException(name),
    };

    internal static Tensor RandomTokens(int batch, int length, int vocab, int seed)
    {
        using var g = new Generator((ulong)seed);
        return randint(0, vocab, new long[] { batch, length }, ScalarType.Int64, generator: g);
    }

    [Theory, MemberData(nameof(Configs))]
    public void Decode_OneTokenAtATime_EqualsFullForward(string name)
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        var config = ConfigByName(name);
        using var model = new CausalLM(config, seed: 1);
        using var noGrad = no_grad();
        using var tokens = RandomTokens(2, 20, config.VocabSize, 7);
        using var full = model.Forward(tokens);
        using var cache = new KvCache(config, rows: 2, maxLength: 32, ScalarType.Float32);
        using (model.Forward(tokens.narrow(1, 0, 5), cache)) { }
        for (int t = 5; t < 20; t++)
        {
            using var step = model.Forward(tokens.narrow(1, t, 1), cache);
            AssertClose(full.Logits!.narrow(1, t, 1), step.Logits!);
            AssertClose(full.Hidden.narrow(1, t, 1), step.Hidden);
        }
        Assert.Equal(20, cache.Length(0));
    }

    [Theory, MemberData(nameof(Configs))]
    public void LongPrefill_ThenRaggedDecode_EqualsFullForward(string name)
    {
        // A prefill of more than 64 new tokens builds its mask with tensor ops on the device; decode steps build theirs on
        // the host. Both must agree with the full forward, also for rows of different cached lengths.
        using var testScope = NewDisposeScope();
        var config = ConfigByName(name);
        using var model = new CausalLM(config, seed: 3);
        using var noGrad = no_grad();
        using var tokens = RandomTokens(2, 100, config.VocabSize, 9);
        using var full = model.Forward(tokens);
        using var cache = new KvCache(config, rows: 2, maxLength: 128, ScalarType.Float32);
        using (model.Forward(tokens.narrow(1, 0, 90), cache)) { }                          // device-built mask
        cache.SetLength(1, 85);                                                              // row 1 rolled back: ragged
        for (int t = 85; t < 90; t++)
        {
            using var row1 = model.Forward(tokens.narrow(0, 1, 1).narrow(1, t, 1), cache, rowOffset: 1);
            AssertClose(full.Logits!.narrow(0, 1, 1).narrow(1, t, 1), row1.Logits!);
        }
        using var step = model.Forward(tokens.narrow(1, 90, 3), cache);                      // host-built mask, T = 3
        AssertClose(full.Logits!.narrow(1, 90, 3), step.Logits!);
        for (int t = 93; t < 100; t++)
        {
            using var one = model.Forward(tokens.narrow(1, t, 1), cache);                    // host-built, every key visible
            AssertClose(full.Logits!.narrow(1, t, 1), one.Logits!);
        }
    }

    [Theory, MemberData(nameof(Configs))]
    public void Decode_KTokensAtATime_EqualsFullForward(string name)
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        var config = ConfigByName(name);
        using var model = new CausalLM(config, seed: 2);
        using var noGrad = no_grad();
        using var tokens = RandomTokens(3, 22, config.VocabSize, 8);
        using var full = model.Forward(tokens);
        using var cache = new KvCache(config, rows: 3, maxLength: 32, ScalarType.Float32);
        for (int t = 0; t < 22; t += 4)
        {
            int k = Math.Min(4, 22 - t);
            using var step = model.Forward(tokens.narrow(1, t, k), cache);
            AssertClose(full.Logits!.narrow(1, t, k), step.Logits!);
        }
    }

    [Fact]
    public void Decode_RaggedBatch_EachRowEqualsItsOwnFullForward()
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        var config = TransformerPresets.Tiny;
        using var model = new CausalLM(config, seed: 3);
        using var noGrad = no_grad();
        int[] promptLengths = { 3, 9, 6 };
        using var tokens = RandomTokens(3, 16, config.VocabSize, 9);
        using var cache = new KvCache(config, rows: 3, maxLength: 32, ScalarType.Float32);
        // Right-padded batched prefill, then each row's length is set back to its own prompt length.
        using (model.Forward(tokens.narrow(1, 0, 9), cache)) { }
        for (int b = 0; b < 3; b++) cache.SetLength(b, promptLengths[b]);
        // Each row continues from its own prompt end: feed token at its own next position.
        for (int step = 0; step < 5; step++)
        {
            using var nextTokens = stack(Enumerable.Range(0, 3).Select(b => tokens[b, promptLengths[b] + step]).ToArray()).view(3, 1);
            using var outStep = model.Forward(nextTokens, cache);
            for (int b = 0; b < 3; b++)
            {
                int len = promptLengths[b] + step + 1;
                using var alone = model.Forward(tokens.narrow(0, b, 1).narrow(1, 0, len));
                AssertClose(alone.Logits!.narrow(1, len - 1, 1), outStep.Logits!.narrow(0, b, 1));
            }
        }
    }

    [Fact]
    public void Rollback_ThenRedecode_EqualsStraightPath()
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        var config = TransformerPresets.Tiny;
        using var model = new CausalLM(config, seed: 4);
        using var noGrad = no_grad();
        using var tokens = RandomTokens(1, 12, config.VocabSize, 10);
        using var wrong = RandomTokens(1, 4, config.VocabSize, 11);
        using var straightCache = new KvCache(config, 1, 32, ScalarType.Float32);
        using var straight = model.Forward(tokens, straightCache);

        using var cache = new KvCache(config, 1, 32, ScalarType.Float32);
        using (model.Forward(tokens.narrow(1, 0, 8), cache)) { }
        using (model.Forward(wrong, cache)) { }          // rejected draft
        cache.SetLength(0, 8);                             // roll back
        using var redo = model.Forward(tokens.narrow(1, 8, 4), cache);
        AssertClose(straight.Logits!.narrow(1, 8, 4), redo.Logits!);
    }

    internal static void AssertClose(Tensor expected, Tensor actual, double tolerance = Tolerance)
    {
        using var scope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        Assert.Equal(expected.shape, actual.shape);
        double diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff <= tolerance, $"max abs diff {diff:g3} > {tolerance:g3}");
    }
}
