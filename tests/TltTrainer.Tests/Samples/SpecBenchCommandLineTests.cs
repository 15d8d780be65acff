using SpecBench;
using TltTrainer.Drafting;

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
        Assert.Null(o.Study);
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

    [Fact]
    public void Parse_Adaptation_BindsTheRecipeFlags_OverTheLibraryDefaults()
    {
        var o = SpecBenchCommandLine.Parse(["--adaptation", "--scenarios", "large", "--budget-steps", "9", "--online-lr", "1e-3", "--online-restart",
            "--recent-steps", "8", "--ts-steps", "300", "--ts-sampled", "--shift-only"]).Study!;
        Assert.Equal(Study.Adaptation, o.Study);
        Assert.Equal("large", Assert.Single(o.Adaptation.Scenarios).Name);
        Assert.Equal(9, o.Adaptation.BudgetSteps);
        Assert.Equal(1e-3, o.Adaptation.Online.Training.LearningRate);
        Assert.True(o.Adaptation.Online.RestartEachRollout);
        Assert.Equal(8, o.Adaptation.Buffer.RecentSteps);
        Assert.True(o.Adaptation.ShiftOnly);
        Assert.Equal(new OnlineDrafterOptions().WindowsPerStep, o.Adaptation.Online.WindowsPerStep);
        Assert.Equal(300, o.TinyStories.Warmup.Steps);
        Assert.Null(o.TinyStories.GreedyAfter);
    }

    [Fact]
    public void Parse_AdaptationWithoutBudget_MeasuresIt()
    {
        var o = SpecBenchCommandLine.Parse(["--adaptation"]).Study!;
        Assert.Null(o.Adaptation.BudgetSteps);
        Assert.Equal(AdaptationScenario.Known, o.Adaptation.Scenarios);
        Assert.Equal(TinyStoriesDrafterBench.Recipe, o.TinyStories);
    }

    [Fact]
    public void Parse_TailRounds_SelectsItsStudy_AndRunsAlone()
    {
        Assert.Equal(Study.TailRounds, SpecBenchCommandLine.Parse(["--tail-rounds"]).Study!.Study);
        var e = Assert.Throws<ArgumentException>(() => SpecBenchCommandLine.Parse(["--tail-rounds", "--positions"]));
        Assert.Contains("--tail-rounds", e.Message);
        Assert.Contains("--positions", e.Message);
        Assert.Contains("--positions-row", Assert.Throws<ArgumentException>(() => SpecBenchCommandLine.Parse(["--tail-rounds", "--positions-row", "512"])).Message);
    }

    [Theory]
    [InlineData("--positions", "--adaptation")]
    [InlineData("--ts-lr", "0.001")]
    [InlineData("--online-windows", "4")]
    [InlineData("--positions-row", "512")]
    public void Parse_StudyFlagWithoutItsStudy_IsRefusedByName(string flag, string value)
    {
        var e = Assert.Throws<ArgumentException>(() => SpecBenchCommandLine.Parse([flag, value]));
        Assert.Contains(flag, e.Message);
    }

    [Theory]
    [InlineData("--scenarios", "huge")]
    [InlineData("--online-lr", "0")]
    [InlineData("--ts-tokens", "1")]
    [InlineData("--budget-steps", "-1")]
    public void Parse_BadStudyValue_NamesTheFlag(string flag, string value)
    {
        var e = Assert.Throws<ArgumentException>(() => SpecBenchCommandLine.Parse(["--adaptation", flag, value]));
        Assert.Contains(flag, e.Message);
    }

    [Fact]
    public void Parse_BothLossWeightsZero_NamesBothFlags()
    {
        var e = Assert.Throws<ArgumentException>(() => SpecBenchCommandLine.Parse(["--tinystories-drafter", "--ts-token-loss", "0", "--ts-hidden-loss", "0"]));
        Assert.Contains("--ts-token-loss and --ts-hidden-loss", e.Message);
    }
}
