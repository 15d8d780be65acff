// Settings of the HfRl sample, with their defaults and ranges (HfRlCommandLine fills them from the flags).
// Validate checks every value and the combination, naming the flag and value, for any caller: the command
// line, or a test that builds the record in-process.
using TltTrainer.Rl;
using TltTrainer.Samples;

namespace HfRl;

/// <summary>Settings of one HfRl run.</summary>
internal sealed record HfRlOptions
{
    /// <summary>HuggingFace model folder (config.json, safetensors, tokenizer files). Required.</summary>
    public string ModelDirectory { get; init; } = "";

    /// <summary>JSONL file of {"prompt": ..., "answer": ...}. Required.</summary>
    public string PromptsPath { get; init; } = "";

    /// <summary>Total RL steps of the run (a resumed run continues up to this step).</summary>
    public int Steps { get; init; } = 20;

    public ulong Seed { get; init; } = 1;
    public string OutputDirectory { get; init; } = "hfrl-out";
    public int CheckpointEvery { get; init; } = 10;
    public bool Resume { get; init; }

    /// <summary>With --resume: continue even if the checkpoint was written with other settings (recorded in the metrics).</summary>
    public bool AllowChangedSettings { get; init; }
    public double LearningRate { get; init; } = 1e-6;
    public int GroupSize { get; init; } = 8;
    public int PromptsPerStep { get; init; } = 8;
    public int MaxNewTokens { get; init; } = 512;
    public double Temperature { get; init; } = 1.0;

    /// <summary>Prompt template with {prompt}, or null for the prompt as is.</summary>
    public string? Template { get; init; }

    public int Workers { get; init; } = 2;
    public bool Tlt { get; init; } = true;

    /// <summary>Starting EAGLE drafter weights (EagleDraftModel.Save format), or null for a fresh drafter.</summary>
    public string? DrafterPath { get; init; }

    /// <summary>Regular expression of a format reward added to the math reward, or null.</summary>
    public string? FormatPattern { get; init; }

    public double FormatWeight { get; init; } = 0.1;

    /// <summary>KV-cache context (prompt + response) per sequence; 0 = the longest prompt plus the response budget, at most the model's maximum.</summary>
    public int Context { get; init; }

    public OverlongPromptPolicy Overlong { get; init; } = OverlongPromptPolicy.Reject;

    /// <summary>Prepend BOS to prompts: null = when the tokenizer has a BOS distinct from its EOS (as Llama tokenizers do).</summary>
    public bool? AddBos { get; init; }

    /// <summary>Held-out JSONL file (same format as --prompts) evaluated greedily every --eval-every steps and at the end, or null.</summary>
    public string? EvalPath { get; init; }

    /// <summary>Evaluate after every this many steps (0 = only at the end).</summary>
    public int EvalEvery { get; init; }

    /// <summary>Sampled responses per held-out prompt for pass@k (0 = greedy only).</summary>
    public int EvalK { get; init; }

    /// <summary>Folder for TensorBoard event files, or null.</summary>
    public string? TensorBoardDirectory { get; init; }

    /// <summary>Accepted ranges, shared by --help, the flags' checks and <see cref="Validate"/>.</summary>
    internal static class Ranges
    {
        public static ValueRange Steps { get; } = ValueRange.AtLeast(1);
        public static ValueRange CheckpointEvery { get; } = ValueRange.AtLeast(1);
        public static ValueRange LearningRate { get; } = new(0, 1, MinOpen: true, Note: "RL fine-tuning uses about 1e-7 to 1e-4");
        public static ValueRange GroupSize { get; } = ValueRange.AtLeast(2, "group advantages need siblings");
        public static ValueRange PromptsPerStep { get; } = ValueRange.AtLeast(1);
        public static ValueRange MaxNewTokens { get; } = ValueRange.AtLeast(1);
        public static ValueRange Temperature { get; } = ValueRange.Positive;
        public static ValueRange Workers { get; } = ValueRange.AtLeast(1);
        public static ValueRange FormatWeight { get; } = ValueRange.Positive;
        public static ValueRange Context { get; } = ValueRange.AtLeast(0, "0 = the longest prompt plus --max-new-tokens");
        public static ValueRange EvalEvery { get; } = ValueRange.AtLeast(0, "0 = only after the last step");
        public static ValueRange EvalK { get; } = ValueRange.Between(0, 1024, "0 = greedy only");
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the field and value when invalid.</summary>
    public HfRlOptions Validate()
    {
        void Require(bool ok, string field, object? value, string rule)
        {
            if (!ok) throw new ArgumentException($"{field} = '{value}' is invalid: {rule}.");
        }
        Require(!string.IsNullOrWhiteSpace(ModelDirectory), "--model", ModelDirectory, "required: a HuggingFace model folder");
        Require(!string.IsNullOrWhiteSpace(PromptsPath), "--prompts", PromptsPath, "required: a JSONL file of {\"prompt\": ..., \"answer\": ...}");
        void InRange(double value, ValueRange range, string flag) => Require(range.Contains(value), flag, value, range.Rule);
        InRange(Steps, Ranges.Steps, "--steps");
        InRange(CheckpointEvery, Ranges.CheckpointEvery, "--checkpoint-every");
        InRange(LearningRate, Ranges.LearningRate, "--lr");
        Require(Resume || !AllowChangedSettings, "--allow-changed-settings", AllowChangedSettings, "only applies with --resume");
        InRange(GroupSize, Ranges.GroupSize, "--group");
        InRange(PromptsPerStep, Ranges.PromptsPerStep, "--prompts-per-step");
        InRange(MaxNewTokens, Ranges.MaxNewTokens, "--max-new-tokens");
        InRange(Temperature, Ranges.Temperature, "--temperature");
        InRange(Workers, Ranges.Workers, "--workers");
        InRange(FormatWeight, Ranges.FormatWeight, "--format-weight");
        InRange(Context, Ranges.Context, "--context");
        Require(Context == 0 || Context > MaxNewTokens, "--context", Context, $"must exceed --max-new-tokens ({MaxNewTokens}) to leave room for a prompt");
        Require(!string.IsNullOrWhiteSpace(OutputDirectory), "--out", OutputDirectory, "must name a folder");
        Require(Tlt || DrafterPath is null, "--drafter", DrafterPath, "needs --tlt on (with TLT off nothing drafts)");
        Require(EvalPath is null || !string.IsNullOrWhiteSpace(EvalPath), "--eval", EvalPath, "must name a JSONL file");
        InRange(EvalEvery, Ranges.EvalEvery, "--eval-every");
        Require(EvalEvery == 0 || EvalPath is not null, "--eval-every", EvalEvery, "needs --eval FILE.jsonl");
        InRange(EvalK, Ranges.EvalK, "--eval-k");
        Require(EvalK == 0 || EvalPath is not null, "--eval-k", EvalK, "needs --eval FILE.jsonl");
        Require(TensorBoardDirectory is null || !string.IsNullOrWhiteSpace(TensorBoardDirectory), "--tensorboard", TensorBoardDirectory, "must name a folder");
        if (Template is not null)
        {
            try { _ = new PromptTemplate(Template); }
            catch (ArgumentException e) { throw new ArgumentException($"--template: {e.Message}", e); }
        }
        if (FormatPattern is not null)
        {
            try { _ = new FormatReward(FormatPattern); }
            catch (ArgumentException e) { throw new ArgumentException($"--format: not a valid regular expression: {e.Message}", e); }
        }
        return this;
    }
}
