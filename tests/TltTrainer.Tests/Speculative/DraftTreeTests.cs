using TltTrainer.Speculative;

namespace TltTrainer.Tests.Speculative;

public sealed class DraftTreeTests
{
    // root ─ 0 ─ 2 ─ 4
    //      └ 1 ─ 3
    private static readonly DraftTree Tree = new(new[] { -1, -1, 0, 1, 2 }, new[] { 10, 11, 12, 13, 14 });

    [Fact]
    public void Truncate_WithinLimits_ReturnsTheSameTree() => Assert.Same(Tree, Tree.Truncate(maxNodes: 5, maxDepth: 3));

    [Fact]
    public void Truncate_ByNodesAndDepth_KeepsATopologicalPrefixClosedUnderParents()
    {
        var cut = Tree.Truncate(maxNodes: 3, maxDepth: 3);
        Assert.Equal(new[] { -1, -1, 0 }, cut.Parents);
        Assert.Equal(new[] { 10, 11, 12 }, cut.Tokens);

        var shallow = Tree.Truncate(maxNodes: 10, maxDepth: 2);
        Assert.Equal(new[] { -1, -1, 0, 1 }, shallow.Parents);
        Assert.Equal(new[] { 10, 11, 12, 13 }, shallow.Tokens);
        Assert.All(shallow.Depths, d => Assert.True(d <= 2));
    }

    [Fact]
    public void Truncate_ToNothing_IsEmpty()
    {
        Assert.Equal(0, Tree.Truncate(0, 3).Count);
        Assert.Equal(0, Tree.Truncate(4, 0).Count);
    }

    [Fact]
    public void Truncate_SampledChain_KeepsTheDraftDistributionsOfTheKeptNodes()
    {
        var q = new[] { new[] { 0.5, 0.5 }, new[] { 0.25, 0.75 }, new[] { 1.0, 0.0 } };
        var chain = new DraftTree(new[] { -1, 0, 1 }, new[] { 0, 1, 0 }, q);
        var cut = chain.Truncate(maxNodes: 2, maxDepth: 5);
        Assert.Equal(new[] { 0, 1 }, cut.Tokens);
        Assert.Same(q[1], cut.DraftProbs![1]);
    }
}
