// Settings of the Quickstart, with their defaults and ranges. QuickstartCommandLine fills them: defaults, then
// an optional JSON config file (snake_case field names), then the flags given, each overriding the one before.
using System.Text.Json.Serialization;
using TltTrainer.Samples;

namespace Quickstart;

/// <summary>Settings of one Quickstart invocation.</summary>
internal sealed record QuickstartOptions
{
    public int Steps { get; init; } = 20;
    public ulong Seed { get; init; } = 1;
    public string OutputDirectory { get; init; } = "tlt-quickstart";
    public string? JsonPath { get; init; }
    public bool Tlt { get; init; } = true;
    public bool Compare { get; init; }
    public double LearningRate { get; init; } = 5e-5;
    public int PromptsPerStep { get; init; } = 16;
    public int GroupSize { get; init; } = 4;
    public int MaxNewTokens { get; init; } = 560;
    public double Temperature { get; init; } = 1.0;
    public int Workers { get; init; } = 2;

    /// <summary>Live progress display (off when the output is redirected, or with --plain).</summary>
    public bool Live { get; init; } = !Console.IsOutputRedirected;

    /// <summary>Held-out chains evaluated greedily at the end (and every --eval-every steps), by term bucket; 0 = no evaluation.</summary>
    public int EvalPrompts { get; init; } = 64;

    /// <summary>Evaluate after every this many steps too (0 = only at the end).</summary>
    public int EvalEvery { get; init; }

    /// <summary>Folder for TensorBoard event files (one subfolder per run: on, off), or null.</summary>
    [JsonPropertyName("tensorboard_directory")] public string? TensorBoardDirectory { get; init; }

    /// <summary>Accepted ranges, shared by --help, the flags' checks and <see cref="Validate"/>.</summary>
    internal static class Ranges
    {
        public static ValueRange Steps { get; } = ValueRange.AtLeast(1);
        public static ValueRange LearningRate { get; } = new(0, 1, MinOpen: true, Note: "RL fine-tuning uses about 1e-7 to 1e-4");
        public static ValueRange PromptsPerStep { get; } = ValueRange.AtLeast(1);
        public static ValueRange GroupSize { get; } = ValueRange.AtLeast(2, "group advantages need siblings");
        public static ValueRange MaxNewTokens { get; } = ValueRange.Between(1, 900, "the context is 1024");
        public static ValueRange Temperature { get; } = ValueRange.Positive;
        public static ValueRange Workers { get; } = ValueRange.AtLeast(1);
        public static ValueRange EvalPrompts { get; } = ValueRange.Between(0, 4096, "0 = no evaluation");
        public static ValueRange EvalEvery { get; } = ValueRange.AtLeast(0, "0 = only at the end");
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting and its value.</summary>
    /// <param name="name">How to name a setting, given its config field (snake_case): the command line names the flag
    /// that set it; by default the field itself.</param>
    public QuickstartOptions Validate(Func<string, string>? name = null)
    {
        void Require(bool ok, string field, object value, string rule)
        {
            if (!ok) throw new ArgumentException($"{name?.Invoke(field) ?? field} = {value} is invalid: {rule}.");
        }
        void InRange(double value, ValueRange range, string field) => Require(range.Contains(value), field, value, range.Rule);
        InRange(Steps, Ranges.Steps, "steps");
        InRange(LearningRate, Ranges.LearningRate, "learning_rate");
        InRange(PromptsPerStep, Ranges.PromptsPerStep, "prompts_per_step");
        InRange(GroupSize, Ranges.GroupSize, "group_size");
        InRange(MaxNewTokens, Ranges.MaxNewTokens, "max_new_tokens");
        InRange(Temperature, Ranges.Temperature, "temperature");
        InRange(Workers, Ranges.Workers, "workers");
        Require(!string.IsNullOrWhiteSpace(OutputDirectory), "output_directory", OutputDirectory, "must name a folder");
        InRange(EvalPrompts, Ranges.EvalPrompts, "eval_prompts");
        InRange(EvalEvery, Ranges.EvalEvery, "eval_every");
        Require(EvalEvery == 0 || EvalPrompts > 0, "eval_every", EvalEvery, $"needs {name?.Invoke("eval_prompts") ?? "eval_prompts"} > 0");
        Require(TensorBoardDirectory is null || !string.IsNullOrWhiteSpace(TensorBoardDirectory), "tensorboard_directory", TensorBoardDirectory ?? "", "must name a folder");
        return this;
    }
}
