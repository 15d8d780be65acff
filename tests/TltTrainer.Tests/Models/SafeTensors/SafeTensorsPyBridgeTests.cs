using TltTrainer.Models.SafeTensors;
using PyBridgeSafetensors = TorchSharp.PyBridge.Safetensors;

namespace TltTrainer.Tests.Models.SafeTensors;

/// <summary>Cross-checks against TorchSharp.PyBridge, an independent safetensors implementation.</summary>
public sealed class SafeTensorsPyBridgeTests
{
    [Fact]
    public void PyBridgeLoad_FileWrittenByOurWriter_GivesSameBytes()
    {
        using var folder = new TempFolder();
        string path = folder.File("ours.safetensors");
        Dictionary<string, Tensor> source = Sample();
        try
        {
            SafeTensorsWriter.Save(path, source, new Dictionary<string, string> { ["note"] = "cross-check" });
            Dictionary<string, Tensor> theirs = PyBridgeSafetensors.LoadStateDict(path);
            try
            {
                AssertSameBytes(source, theirs);
            }
            finally
            {
                DisposeAll(theirs);
            }
        }
        finally
        {
            DisposeAll(source);
        }
    }

    [Fact]
    public void Load_FileWrittenByPyBridge_GivesSameBytes()
    {
        using var folder = new TempFolder();
        string path = folder.File("theirs.safetensors");
        Dictionary<string, Tensor> source = Sample();
        try
        {
            PyBridgeSafetensors.SaveStateDict(path, source);
            Dictionary<string, Tensor> ours = SafeTensorsReader.Load(path);
            try
            {
                AssertSameBytes(source, ours);
            }
            finally
            {
                DisposeAll(ours);
            }
        }
        finally
        {
            DisposeAll(source);
        }
    }

    private static Dictionary<string, Tensor> Sample()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(1234);
        Tensor special = tensor(new[] { float.NaN, -0f, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, 1e-40f, 3.5f });
        var sample = new Dictionary<string, Tensor>
        {
            ["model.embed.weight"] = randn([7, 5], generator: generator),
            ["model.layers.0.w"] = randn([3, 4], generator: generator).to_type(ScalarType.BFloat16),
            ["model.layers.0.h"] = randn([6], generator: generator).to_type(ScalarType.Float16),
            ["special.f32"] = special,
            ["special.bf16"] = special.to_type(ScalarType.BFloat16),
            ["ids"] = tensor(new long[] { long.MinValue, -1, 0, long.MaxValue }),
            ["mask"] = tensor(new[] { true, false, true }),
            ["scalar"] = tensor(2.5),
        };
        foreach (Tensor t in sample.Values)
            t.MoveToOuterDisposeScope();
        return sample;
    }

    private static void AssertSameBytes(Dictionary<string, Tensor> expected, Dictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach ((string name, Tensor e) in expected)
        {
            Tensor a = actual[name];
            Assert.Equal(e.dtype, a.dtype);
            Assert.Equal(e.shape, a.shape);
            Assert.Equal(e.bytes.ToArray(), a.bytes.ToArray());
        }
    }

    private static void DisposeAll(Dictionary<string, Tensor> tensors)
    {
        foreach (Tensor t in tensors.Values)
            t.Dispose();
    }
}
