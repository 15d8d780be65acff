using Quickstart;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Samples;

/// <summary>The Quickstart's command line: defaults, every flag, values refused with the flag named, unknown flags,
/// and the config file's precedence (defaults, then the file, then the flags given).</summary>
public sealed class QuickstartCommandLineTests
{
    [Fact]
    public void Parse_NoArguments_GivesTheRecordsDefaults()
    {
        var o = QuickstartCommandLine.Parse([]);
        Assert.Equal(new QuickstartOptions(), o);
        Assert.Equal(20, o.Steps);
        Assert.Equal(5e-5, o.LearningRate);
        Assert.True(o.Tlt);
    }

    [Fact]
    public void Parse_EveryFlag_SetsItsSetting()
    {
        var o = QuickstartCommandLine.Parse(["--steps", "7", "--seed", "9", "--out", "runs/a", "--json", "r.json", "--tlt", "off", "--compare",
            "--lr", "1e-4", "--prompts", "3", "--group", "5", "--max-new-tokens", "100", "--temperature", "0.7", "--workers", "1", "--plain",
            "--eval-prompts", "10", "--eval-every", "2", "--tensorboard", "tb"]);
        Assert.Equal(new QuickstartOptions
        {
            Steps = 7, Seed = 9, OutputDirectory = "runs/a", JsonPath = "r.json", Tlt = false, Compare = true, LearningRate = 1e-4, PromptsPerStep = 3,
            GroupSize = 5, MaxNewTokens = 100, Temperature = 0.7, Workers = 1, Live = false, EvalPrompts = 10, EvalEvery = 2, TensorBoardDirectory = "tb",
        }, o);
    }

    [Theory]
    [InlineData("--steps", "0")]
    [InlineData("--steps", "many")]
    [InlineData("--seed", "-1")]
    [InlineData("--lr", "2")]
    [InlineData("--lr", "nan")]
    [InlineData("--prompts", "0")]
    [InlineData("--group", "1")]
    [InlineData("--max-new-tokens", "901")]
    [InlineData("--temperature", "0")]
    [InlineData("--temperature", "Infinity")]
    [InlineData("--workers", "0")]
    [InlineData("--eval-prompts", "4097")]
    [InlineData("--eval-every", "-1")]
    [InlineData("--tlt", "maybe")]
    public void Parse_OutOfRangeValue_NamesTheFlagAndTheValue(string flag, string value)
    {
        var e = Assert.Throws<ArgumentException>(() => QuickstartCommandLine.Parse([flag, value]));
        Assert.Contains(flag, e.Message);
        Assert.Contains($"'{value}'", e.Message);
    }

    [Fact]
    public void Parse_UnknownFlag_IsRefusedByName()
    {
        var e = Assert.Throws<ArgumentException>(() => QuickstartCommandLine.Parse(["--steps", "3", "--stepz", "4"]));
        Assert.Contains("'--stepz'", e.Message);
        Assert.Throws<ArgumentException>(() => QuickstartCommandLine.Parse(["--compare", "yes"]));   // a switch takes no value
    }

    [Fact]
    public void Parse_RepeatedFlag_LastValueWins()
    {
        Assert.Equal(5, QuickstartCommandLine.Parse(["--steps", "3", "--steps", "5"]).Steps);
    }

    [Fact]
    public void Parse_ConfigFile_FlagsGivenWinOverItWhereverTheyStand()
    {
        using var dir = new TempDirectory();
        string config = dir.Write("run.json", """
            // comments and trailing commas are fine
            { "steps": 20, "seed": 3, "learning_rate": 1e-4, "group_size": 6, "tlt": false, "eval_every": 5, "live": false, }
            """);
        var o = QuickstartCommandLine.Parse(["--seed", "8", "--config", config, "--steps", "4"]);
        Assert.Equal(4, o.Steps);                 // flag after --config
        Assert.Equal(8UL, o.Seed);                // flag before --config
        Assert.Equal(1e-4, o.LearningRate);       // from the file
        Assert.Equal(6, o.GroupSize);
        Assert.False(o.Tlt);
        Assert.Equal(5, o.EvalEvery);
        Assert.False(o.Live);
        Assert.Equal(new QuickstartOptions().PromptsPerStep, o.PromptsPerStep);   // neither: the default
        Assert.True(QuickstartCommandLine.Parse(["--config", config, "--tlt", "on"]).Tlt);
    }

    [Fact]
    public void Parse_ConfigFileValueOutOfRange_NamesTheField_UnlessAFlagReplacesIt()
    {
        using var dir = new TempDirectory();
        string config = dir.Write("bad.json", """{ "learning_rate": 5 }""");
        var e = Assert.Throws<ArgumentException>(() => QuickstartCommandLine.Parse(["--config", config]));
        Assert.Contains("learning_rate = 5 is invalid: must lie in (0, 1]", e.Message);
        Assert.Equal(1e-5, QuickstartCommandLine.Parse(["--config", config, "--lr", "1e-5"]).LearningRate);
    }

    [Fact]
    public void Parse_ConfigFileUnknownFieldOrMissingFile_NamesIt()
    {
        using var dir = new TempDirectory();
        var unknown = Assert.Throws<ArgumentException>(() => QuickstartCommandLine.Parse(["--config", dir.Write("u.json", """{ "stepz": 3 }""")]));
        Assert.Contains("stepz", unknown.Message);
        Assert.Contains("u.json", unknown.Message);
        var missing = Assert.Throws<FileNotFoundException>(() => QuickstartCommandLine.Parse(["--config", Path.Combine(dir.Path, "none.json")]));
        Assert.Contains("none.json", missing.Message);
        Assert.Contains("--config", missing.Message);
    }

    [Fact]
    public void Parse_InvalidCombinationOfFlags_NamesTheFlags()
    {
        var e = Assert.Throws<ArgumentException>(() => QuickstartCommandLine.Parse(["--eval-prompts", "0", "--eval-every", "3"]));
        Assert.Contains("--eval-every = 3 is invalid: needs --eval-prompts > 0", e.Message);
    }

    [Fact]
    public void Run_Help_ListsEveryFlagWithDefaultsAndRanges_AndExitsZero()
    {
        var output = new StringWriter();
        var result = QuickstartCommandLine.Run(["--help"], output, TextWriter.Null);
        Assert.Null(result.Options);
        Assert.Equal(0, result.ExitCode);
        string help = output.ToString();
        foreach (var flag in new[] { "--config", "--steps", "--seed", "--out", "--json", "--tlt", "--compare", "--lr", "--prompts", "--group",
            "--max-new-tokens", "--temperature", "--workers", "--plain", "--eval-prompts", "--eval-every", "--tensorboard" })
            Assert.Contains(flag, help);
        Assert.Contains("Range: [1, 900] (the context is 1024). [default: 560]", help);
        Assert.Contains("--tlt <on|off>", help);
    }

    [Fact]
    public void Run_BadValue_ExitsTwo_WithOneLineNamingTheFlag()
    {
        var error = new StringWriter();
        var result = QuickstartCommandLine.Run(["--steps", "0"], TextWriter.Null, error);
        Assert.Null(result.Options);
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("quickstart: --steps must be an integer ≥ 1, not '0'.", error.ToString());
    }
}
