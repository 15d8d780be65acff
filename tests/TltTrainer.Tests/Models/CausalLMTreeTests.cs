using TltTrainer.Models;

namespace TltTrainer.Tests.Models;

/// <summary>A draft tree verified in one forward gives, at every node, the logits of the chain along its path.</summary>
public sealed class CausalLMTreeTests
{
    [Fact]
    public void TreeMaskForward_EveryNode_EqualsChainForwardAlongItsPath()
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        var config = CausalLMCacheTests.ConfigByName("qwen-like");
        using var model = new CausalLM(config, seed: 5);
        using var noGrad = no_grad();
        // Tree over 7 new tokens: parents (−1 = child of the last prefix token).
        int[] parent = { -1, 0, 0, 1, 1, 2, 5 };
        int T = parent.Length;
        using var prefix = CausalLMCacheTests.RandomTokens(1, 6, config.VocabSize, 12);
        using var treeTokens = CausalLMCacheTests.RandomTokens(1, T, config.VocabSize, 13);
        var (depth, ancestor) = Layout(parent);

        using var cache = new KvCache(config, 1, 32, ScalarType.Float32);
        using (model.Forward(prefix, cache)) { }
        using var positions = tensor(depth.Select(d => d + 6).ToArray()).view(1, T);
        using var mask = tensor(ancestor).view(1, T, T);
        using var tree = model.Forward(treeTokens, cache, positions: positions, newTokenMask: mask);

        var treeIds = treeTokens.data<long>().ToArray();
        for (int j = 0; j < T; j++)
        {
            var path = new List<long>();
            for (int a = j; a >= 0; a = parent[a]) path.Insert(0, treeIds[a]);
            using var pathTokens = tensor(path.ToArray()).view(1, -1);
            using var chain = model.Forward(cat(new[] { prefix, pathTokens }, 1));
            CausalLMCacheTests.AssertClose(chain.Logits!.narrow(1, 5 + path.Count, 1), tree.Logits!.narrow(1, j, 1));
        }
    }

    [Fact]
    public void Compact_AcceptedTreePath_ThenDecode_EqualsChainPath()
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        var config = TransformerPresets.Tiny;
        using var model = new CausalLM(config, seed: 6);
        using var noGrad = no_grad();
        int[] parent = { -1, 0, 0, 2, 3 };
        int T = parent.Length;
        using var prefix = CausalLMCacheTests.RandomTokens(1, 5, config.VocabSize, 14);
        using var treeTokens = CausalLMCacheTests.RandomTokens(1, T, config.VocabSize, 15);
        using var next = CausalLMCacheTests.RandomTokens(1, 1, config.VocabSize, 16);
        var (depth, ancestor) = Layout(parent);
        using var cache = new KvCache(config, 1, 32, ScalarType.Float32);
        using (model.Forward(prefix, cache)) { }
        using var positions = tensor(depth.Select(d => d + 5).ToArray()).view(1, T);
        using var mask = tensor(ancestor).view(1, T, T);
        using (model.Forward(treeTokens, cache, positions: positions, newTokenMask: mask)) { }
        // Accept the path 0 → 2 → 3 (tree slots 5, 7, 8) and decode one more token.
        cache.Compact(0, 5, new[] { 5, 7, 8 });
        Assert.Equal(8, cache.Length(0));
        using var afterCompact = model.Forward(next, cache);

        var ids = treeTokens.data<long>().ToArray();
        using var chainTokens = cat(new[] { prefix, tensor(new[] { ids[0], ids[2], ids[3] }).view(1, 3), next }, 1);
        using var chain = model.Forward(chainTokens);
        CausalLMCacheTests.AssertClose(chain.Logits!.narrow(1, 8, 1), afterCompact.Logits!);
    }

    /// <summary>Depth (root children at 0) and the ancestor-or-self relation [T·T] of a tree given by parents.</summary>
    private static (long[] Depth, bool[] Ancestor) Layout(int[] parent)
    {
        int T = parent.Length;
        var depth = new long[T];
        var ancestor = new bool[T * T];
        for (int j = 0; j < T; j++)
        {
            for (int a = j; a >= 0; a = parent[a]) ancestor[j * T + a] = true;
            depth[j] = parent[j] < 0 ? 0 : depth[parent[j]] + 1;
        }
        return (depth, ancestor);
    }
}
