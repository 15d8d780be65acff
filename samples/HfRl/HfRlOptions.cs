// Settings of the HfRl sample: defaults, then command-line flags. Parse refuses unknown flags and bad
// values with the flag named; Validate checks the combination with the field and value named.
using System.Globalization;
using TltTrainer.Rl;

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

    public const string Usage = "usage: --model DIR --prompts FILE.jsonl [--steps N] [--seed S] [--out DIR] [--checkpoint-every N] [--resume [--allow-changed-settings]] "
        + "[--lr X] [--group N] [--prompts-per-step N] [--max-new-tokens N] [--temperature T] [--template TEXT] [--workers N] "
        + "[--tlt on|off] [--drafter FILE.safetensors] [--format REGEX] [--format-weight W] [--context N] "
        + "[--overlong reject|truncate-left] [--bos auto|on|off] [--eval FILE.jsonl] [--eval-every N] [--eval-k K] [--tensorboard DIR]";

    /// <summary>Reads flags; throws <see cref="ArgumentException"/> naming the flag.</summary>
    public static HfRlOptions Parse(IReadOnlyList<string> args)
    {
        var o = new HfRlOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string flag = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{flag} needs a value.");
            o = flag switch
            {
                "--model" => o with { ModelDirectory = Value() },
                "--prompts" => o with { PromptsPath = Value() },
                "--steps" => o with { Steps = Int(flag, Value(), 1) },
                "--seed" => o with { Seed = ulong.TryParse(Value(), out var seed) ? seed : throw new ArgumentException("--seed must be a non-negative integer.") },
                "--out" => o with { OutputDirectory = Value() },
                "--checkpoint-every" => o with { CheckpointEvery = Int(flag, Value(), 1) },
                "--resume" => o with { Resume = true },
                "--allow-changed-settings" => o with { AllowChangedSettings = true },
                "--lr" => o with { LearningRate = Positive(flag, Value()) },
                "--group" => o with { GroupSize = Int(flag, Value(), 2) },
                "--prompts-per-step" => o with { PromptsPerStep = Int(flag, Value(), 1) },
                "--max-new-tokens" => o with { MaxNewTokens = Int(flag, Value(), 1) },
                "--temperature" => o with { Temperature = Positive(flag, Value()) },
                "--template" => o with { Template = Value() },
                "--workers" => o with { Workers = Int(flag, Value(), 1) },
                "--tlt" => o with { Tlt = OnOff(flag, Value()) },
                "--drafter" => o with { DrafterPath = Value() },
                "--format" => o with { FormatPattern = Value() },
                "--format-weight" => o with { FormatWeight = Positive(flag, Value()) },
                "--context" => o with { Context = Int(flag, Value(), 2) },
                "--overlong" => o with
                {
                    Overlong = Value() switch
                    {
                        "reject" => OverlongPromptPolicy.Reject,
                        "truncate-left" => OverlongPromptPolicy.TruncateLeft,
                        var v => throw new ArgumentException($"--overlong must be reject or truncate-left, not '{v}'."),
                    },
                },
                "--bos" => o with
                {
                    AddBos = Value() switch
                    {
                        "auto" => (bool?)null,
                        "on" => true,
                        "off" => false,
                        var v => throw new ArgumentException($"--bos must be auto, on or off, not '{v}'."),
                    },
                },
                "--eval" => o with { EvalPath = Value() },
                "--eval-every" => o with { EvalEvery = Int(flag, Value(), 1) },
                "--eval-k" => o with { EvalK = Int(flag, Value(), 1) },
                "--tensorboard" => o with { TensorBoardDirectory = Value() },
                var unknown => throw new ArgumentException($"unknown option '{unknown}'; {Usage}"),
            };
        }
        return o.Validate();
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
        Require(Steps >= 1, "--steps", Steps, "must be ≥ 1");
        Require(CheckpointEvery >= 1, "--checkpoint-every", CheckpointEvery, "must be ≥ 1");
        Require(LearningRate > 0 && LearningRate <= 1, "--lr", LearningRate, "must lie in (0, 1] (RL fine-tuning uses about 1e-7 to 1e-4)");
        Require(Resume || !AllowChangedSettings, "--allow-changed-settings", AllowChangedSettings, "only applies with --resume");
        Require(GroupSize >= 2, "--group", GroupSize, "must be ≥ 2 (group advantages need siblings)");
        Require(PromptsPerStep >= 1, "--prompts-per-step", PromptsPerStep, "must be ≥ 1");
        Require(MaxNewTokens >= 1, "--max-new-tokens", MaxNewTokens, "must be ≥ 1");
        Require(Temperature > 0 && double.IsFinite(Temperature), "--temperature", Temperature, "must be a finite number > 0");
        Require(Workers >= 1, "--workers", Workers, "must be ≥ 1");
        Require(FormatWeight > 0 && double.IsFinite(FormatWeight), "--format-weight", FormatWeight, "must be a finite number > 0");
        Require(Context == 0 || Context > MaxNewTokens, "--context", Context, $"must exceed --max-new-tokens ({MaxNewTokens}) to leave room for a prompt");
        Require(!string.IsNullOrWhiteSpace(OutputDirectory), "--out", OutputDirectory, "must name a folder");
        Require(Tlt || DrafterPath is null, "--drafter", DrafterPath, "needs --tlt on (with TLT off nothing drafts)");
        Require(EvalPath is null || !string.IsNullOrWhiteSpace(EvalPath), "--eval", EvalPath, "must name a JSONL file");
        Require(EvalEvery >= 0 && (EvalEvery == 0 || EvalPath is not null), "--eval-every", EvalEvery, "needs --eval FILE.jsonl (and must be ≥ 1)");
        Require(EvalK is >= 0 and <= 1024 && (EvalK == 0 || EvalPath is not null), "--eval-k", EvalK, "needs --eval FILE.jsonl (and must lie in [1, 1024])");
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

    private static int Int(string flag, string value, int min) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min
            ? n : throw new ArgumentException($"{flag} must be an integer ≥ {min}, not '{value}'.");

    private static double Positive(string flag, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && x > 0 && double.IsFinite(x)
            ? x : throw new ArgumentException($"{flag} must be a positive number, not '{value}'.");

    private static bool OnOff(string flag, string value) => value switch
    {
        "on" => true,
        "off" => false,
        _ => throw new ArgumentException($"{flag} must be on or off, not '{value}'."),
    };
}
