using HfRl;
using TltTrainer.Rl;

namespace TltTrainer.Tests.Samples;

/// <summary>HfRl's command line: defaults, every flag, required flags, values and combinations refused with the
/// flag named, unknown flags, and a repeated flag's last value winning (scripts append overrides).</summary>
public sealed class HfRlCommandLineTests
{
    private static readonly string[] Required = ["--model", "m", "--prompts", "p.jsonl"];

    private static HfRlOptions Parse(params string[] more) => HfRlCommandLine.Parse([.. Required, .. more]);

    [Fact]
    public void Parse_RequiredFlagsOnly_GivesTheRecordsDefaults()
    {
        Assert.Equal(new HfRlOptions { ModelDirectory = "m", PromptsPath = "p.jsonl" }, Parse());
    }

    [Fact]
    public void Parse_EveryFlag_SetsItsSetting()
    {
        var o = Parse("--steps", "50", "--seed", "4", "--out", "o", "--checkpoint-every", "5", "--resume", "--allow-changed-settings", "--lr", "2e-6",
            "--group", "4", "--prompts-per-step", "3", "--max-new-tokens", "64", "--temperature", "0.9", "--template", "Q: {prompt}", "--workers", "3",
            "--tlt", "on", "--drafter", "d.safetensors", "--format", @"\d", "--format-weight", "0.5", "--context", "128", "--overlong", "truncate-left",
            "--bos", "off", "--eval", "e.jsonl", "--eval-every", "10", "--eval-k", "4", "--tensorboard", "tb");
        Assert.Equal(new HfRlOptions
        {
            ModelDirectory = "m", PromptsPath = "p.jsonl", Steps = 50, Seed = 4, OutputDirectory = "o", CheckpointEvery = 5, Resume = true,
            AllowChangedSettings = true, LearningRate = 2e-6, GroupSize = 4, PromptsPerStep = 3, MaxNewTokens = 64, Temperature = 0.9,
            Template = "Q: {prompt}", Workers = 3, Tlt = true, DrafterPath = "d.safetensors", FormatPattern = @"\d", FormatWeight = 0.5, Context = 128,
            Overlong = OverlongPromptPolicy.TruncateLeft, AddBos = false, EvalPath = "e.jsonl", EvalEvery = 10, EvalK = 4, TensorBoardDirectory = "tb",
        }, o);
        Assert.True(Parse("--bos", "on").AddBos);
        Assert.Null(Parse("--bos", "auto").AddBos);
        Assert.False(Parse("--tlt", "off").Tlt);
    }

    [Fact]
    public void Parse_WithoutModelOrPrompts_NamesBoth()
    {
        var e = Assert.Throws<ArgumentException>(() => HfRlCommandLine.Parse([]));
        Assert.Contains("--model", e.Message);
        Assert.Contains("--prompts", e.Message);
    }

    [Theory]
    [InlineData("--lr", "1e300")]
    [InlineData("--lr", "1e10")]
    [InlineData("--lr", "-1")]
    [InlineData("--lr", "nan")]
    [InlineData("--lr", "0")]
    [InlineData("--steps", "0")]
    [InlineData("--seed", "x")]
    [InlineData("--checkpoint-every", "0")]
    [InlineData("--group", "1")]
    [InlineData("--prompts-per-step", "0")]
    [InlineData("--max-new-tokens", "0")]
    [InlineData("--temperature", "-0.5")]
    [InlineData("--workers", "0")]
    [InlineData("--format-weight", "0")]
    [InlineData("--context", "-2")]
    [InlineData("--eval-every", "-1")]
    [InlineData("--eval-k", "1025")]
    [InlineData("--tlt", "maybe")]
    [InlineData("--overlong", "cut")]
    [InlineData("--bos", "yes")]
    public void Parse_OutOfRangeValue_NamesTheFlagAndTheValue(string flag, string value)
    {
        var e = Assert.Throws<ArgumentException>(() => Parse(flag, value));
        Assert.Contains(flag, e.Message);
        Assert.Contains($"'{value}'", e.Message);
    }

    [Theory]
    [InlineData("--allow-changed-settings", "--allow-changed-settings")]        // only with --resume
    [InlineData("--eval-every", "--eval-every", "5")]                            // only with --eval
    [InlineData("--eval-k", "--eval-k", "2")]
    [InlineData("--context", "--context", "16", "--max-new-tokens", "16")]       // no room for a prompt
    [InlineData("--drafter", "--drafter", "d.safetensors", "--tlt", "off")]
    [InlineData("--template", "--template", "no placeholder")]
    [InlineData("--format", "--format", "(")]
    public void Parse_InvalidCombination_NamesTheFlag(string flag, params string[] args)
    {
        var e = Assert.Throws<ArgumentException>(() => Parse(args));
        Assert.Contains(flag, e.Message);
    }

    [Fact]
    public void Parse_UnknownFlag_IsRefusedByName()
    {
        var e = Assert.Throws<ArgumentException>(() => Parse("--learning-rate", "1e-6"));
        Assert.Contains("'--learning-rate'", e.Message);
    }

    [Fact]
    public void Parse_RepeatedFlag_LastValueWins_AndValuesStartingWithAtOrDashAreValues()
    {
        var o = Parse("--group", "4", "--group", "8", "--template", "@{prompt}", "--format", "-\\d");
        Assert.Equal(8, o.GroupSize);
        Assert.Equal("@{prompt}", o.Template);       // no response files
        Assert.Equal("-\\d", o.FormatPattern);
    }

    [Fact]
    public void Run_Help_ListsEveryFlagWithDefaultsAndRanges_AndExitsZero()
    {
        var output = new StringWriter();
        var result = HfRlCommandLine.Run(["--help"], output, TextWriter.Null);
        Assert.Equal(0, result.ExitCode);
        Assert.Null(result.Options);
        string help = output.ToString();
        foreach (var flag in new[] { "--model", "--prompts", "--steps", "--seed", "--out", "--checkpoint-every", "--resume", "--allow-changed-settings",
            "--lr", "--group", "--prompts-per-step", "--max-new-tokens", "--temperature", "--template", "--workers", "--tlt", "--drafter", "--format",
            "--format-weight", "--context", "--overlong", "--bos", "--eval", "--eval-every", "--eval-k", "--tensorboard" })
            Assert.Contains(flag, help);
        Assert.Contains("Range: (0, 1] (RL fine-tuning uses about 1e-7 to 1e-4).", help);
        Assert.Contains("Range: ≥ 1. [default: 20]", help);
        Assert.Contains("--overlong <reject|truncate-left>", help);
    }

    [Fact]
    public void Run_BadValue_ExitsTwo_WithTheFlagNamed()
    {
        var error = new StringWriter();
        var result = HfRlCommandLine.Run([.. Required, "--lr", "2"], TextWriter.Null, error);
        Assert.Equal(2, result.ExitCode);
        Assert.Null(result.Options);
        Assert.StartsWith("hfrl: --lr must be a number in (0, 1]", error.ToString());
    }
}
