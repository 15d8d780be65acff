using SpecBench;

namespace TltTrainer.Tests.Samples;

/// <summary>SpecBench's command line: defaults, every flag, bad values and drafter names refused with the flag named.</summary>
public sealed class SpecBenchCommandLineTests
{
    [Fact]
    public void Parse_NoArguments_GivesTheDefaults()
    {
        var o = SpecBenchCommandLine.Parse([]);
        Assert.False(o.Quick);
        Assert.Equal(Environment.ProcessorCount, o.Threads);
        Assert.Null(o.JsonPath);
        Assert.Null(o.SharedDirectory);
        Assert.Null(o.Only);
    }

    [Fact]
    public void Parse_EveryFlag_SetsItsSetting()
    {
        var o = SpecBenchCommandLine.Parse(["--quick", "--json", "b.json", "--threads", "1", "--shared", "/s", "--only", "ngram, eagle-trained"]);
        Assert.True(o.Quick);
        Assert.Equal("b.json", o.JsonPath);
        Assert.Equal(1, o.Threads);
        Assert.Equal("/s", o.SharedDirectory);
        Assert.Equal(new[] { "ngram", "eagle-trained" }, o.Only);
    }

    [Theory]
    [InlineData("--threads", "0")]
    [InlineData("--threads", "all")]
    [InlineData("--only", "ngram,medusa")]
    [InlineData("--only", ",")]
    public void Parse_BadValue_NamesTheFlag(string flag, string value)
    {
        var e = Assert.Throws<ArgumentException>(() => SpecBenchCommandLine.Parse([flag, value]));
        Assert.Contains(flag, e.Message);
    }

    [Fact]
    public void Parse_UnknownDrafter_ListsTheValidNames()
    {
        var e = Assert.Throws<ArgumentException>(() => SpecBenchCommandLine.Parse(["--only", "medusa"]));
        Assert.Contains("'medusa'", e.Message);
        Assert.Contains(string.Join(", ", SpeculativeBench.DrafterNames), e.Message);
    }

    [Fact]
    public void Run_UnknownFlag_ExitsTwo_Help_ExitsZero()
    {
        var error = new StringWriter();
        Assert.Equal(2, SpecBenchCommandLine.Run(["--fast"], TextWriter.Null, error).ExitCode);
        Assert.Contains("'--fast'", error.ToString());
        var output = new StringWriter();
        Assert.Equal(0, SpecBenchCommandLine.Run(["-h"], output, TextWriter.Null).ExitCode);
        Assert.Contains("--only <DRAFTERS>", output.ToString());
        Assert.Contains("--threads <N>", output.ToString());
    }
}
