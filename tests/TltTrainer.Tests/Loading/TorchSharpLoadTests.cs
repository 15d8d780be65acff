namespace TltTrainer.Tests.Loading;

/// <summary>Proves the native libtorch loads on this host (the build's loader fix did its job).</summary>
public sealed class TorchSharpLoadTests
{
    [Fact]
    public void Matmul_OnCpu_MatchesHandComputedValues()
    {
        using var a = tensor(new float[] { 1, 2, 3, 4 }, new long[] { 2, 2 });
        using var b = tensor(new float[] { 5, 6, 7, 8 }, new long[] { 2, 2 });
        using var c = a.matmul(b);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, c.data<float>().ToArray());
    }
}
