// HfRl's command line (System.CommandLine): every flag with its default and range in --help, values checked
// as they are parsed (the flag named), then HfRlOptions.Validate for the combinations (--allow-changed-settings
// only with --resume, --eval-every and --eval-k only with --eval, --context above --max-new-tokens, ...).
using System.CommandLine;
using TltTrainer.Rl;
using TltTrainer.Samples;

namespace HfRl;

/// <summary>Parses HfRl's arguments into <see cref="HfRlOptions"/>.</summary>
internal static class HfRlCommandLine
{
    private static readonly HfRlOptions Defaults = new();

    private static readonly Option<string?> Model = SampleOption.Text("--model",
        "HuggingFace model folder: a Llama or Qwen2 config.json, model.safetensors (or shards) and its tokenizer.", "DIR", required: true);
    private static readonly Option<string?> Prompts = SampleOption.Text("--prompts",
        "JSONL training prompts, one {\"prompt\": ..., \"answer\": ...} per line.", "FILE.jsonl", required: true);
    private static readonly Option<int> Steps = SampleOption.Int("--steps", "RL steps in total (a resumed run continues up to this step).", Defaults.Steps, HfRlOptions.Ranges.Steps);
    private static readonly Option<ulong> Seed = SampleOption.Seed("--seed", "Seed of the prompts, the sampling and the update (a resume needs the same).", Defaults.Seed);
    private static readonly Option<string?> Out = SampleOption.Text("--out",
        "Output folder: metrics.jsonl, checkpoints/, drafter.safetensors; one run at a time.", "DIR", Defaults.OutputDirectory);
    private static readonly Option<int> CheckpointEvery = SampleOption.Int("--checkpoint-every", "Checkpoint every N steps (and after the last).",
        Defaults.CheckpointEvery, HfRlOptions.Ranges.CheckpointEvery);
    private static readonly Option<bool> Resume = SampleOption.Flag("--resume",
        "Continue from the latest complete checkpoint in --out (without it an --out that holds checkpoints is refused).");
    private static readonly Option<bool> AllowChangedSettings = SampleOption.Flag("--allow-changed-settings",
        "With --resume: continue although the checkpoint was written with other settings (recorded in the metrics).");
    private static readonly Option<double> LearningRate = SampleOption.Number("--lr", "Learning rate.", Defaults.LearningRate, HfRlOptions.Ranges.LearningRate);
    private static readonly Option<int> Group = SampleOption.Int("--group", "Responses per prompt.", Defaults.GroupSize, HfRlOptions.Ranges.GroupSize);
    private static readonly Option<int> PromptsPerStep = SampleOption.Int("--prompts-per-step", "Prompts per step.", Defaults.PromptsPerStep, HfRlOptions.Ranges.PromptsPerStep);
    private static readonly Option<int> MaxNewTokens = SampleOption.Int("--max-new-tokens", "Response budget in tokens.", Defaults.MaxNewTokens, HfRlOptions.Ranges.MaxNewTokens);
    private static readonly Option<double> Temperature = SampleOption.Number("--temperature", "Sampling temperature.", Defaults.Temperature, HfRlOptions.Ranges.Temperature, "T");
    private static readonly Option<string?> Template = SampleOption.Text("--template", "Prompt template containing {prompt} (default: the prompt as is).", "TEXT");
    private static readonly Option<int> Workers = SampleOption.Int("--workers", "Rollout workers.", Defaults.Workers, HfRlOptions.Ranges.Workers);
    private static readonly Option<string> Tlt = SampleOption.Choice("--tlt",
        "Rollouts with TLT (adaptive speculation, EAGLE drafter trained on idle compute) or plain decoding.", Defaults.Tlt ? "on" : "off", "on", "off");
    private static readonly Option<string?> Drafter = SampleOption.Text("--drafter", "Starting EAGLE drafter weights (default: a fresh drafter; needs --tlt on).", "FILE.safetensors");
    private static readonly Option<string?> Format = SampleOption.Text("--format", "Regular expression of a format reward added to the math reward.", "REGEX");
    private static readonly Option<double> FormatWeight = SampleOption.Number("--format-weight", "Weight of the --format reward.", Defaults.FormatWeight, HfRlOptions.Ranges.FormatWeight, "W");
    private static readonly Option<int> Context = SampleOption.Int("--context",
        "KV-cache length per sequence, above --max-new-tokens; at most the model's maximum.", Defaults.Context, HfRlOptions.Ranges.Context);
    private static readonly Option<string> Overlong = SampleOption.Choice("--overlong", "A prompt longer than the context allows: refuse the run, or keep its end.",
        "reject", "reject", "truncate-left");
    private static readonly Option<string> Bos = SampleOption.Choice("--bos",
        "Prepend BOS to prompts; auto: when the tokenizer's BOS differs from its EOS (as Llama's does).", "auto", "auto", "on", "off");
    private static readonly Option<string?> Eval = SampleOption.Text("--eval",
        "Held-out JSONL prompts (same format as --prompts) answered greedily after every --eval-every steps and the last.", "FILE.jsonl");
    private static readonly Option<int> EvalEvery = SampleOption.Int("--eval-every", "Evaluate after every N steps (needs --eval).", Defaults.EvalEvery, HfRlOptions.Ranges.EvalEvery);
    private static readonly Option<int> EvalK = WithoutDefault(SampleOption.Int("--eval-k",
        "Also pass@K over K samples per held-out prompt at --temperature (needs --eval; default: greedy only).", Defaults.EvalK, ValueRange.Between(1, 1024), "K"));
    private static readonly Option<string?> TensorBoard = SampleOption.Text("--tensorboard", "Folder for TensorBoard event files.", "DIR");

    /// <summary>The command, for --help and parsing.</summary>
    public static RootCommand Command { get; } = new("HfRl: RL with TLT on a local HuggingFace model (Llama/Qwen2) and a JSONL prompt file with answers. "
        + "Exit codes: 0 done, 2 bad input, 3 the policy diverged, 130 interrupted (Ctrl+C).")
    {
        Model, Prompts, Steps, Seed, Out, CheckpointEvery, Resume, AllowChangedSettings, LearningRate, Group, PromptsPerStep, MaxNewTokens,
        Temperature, Template, Workers, Tlt, Drafter, Format, FormatWeight, Context, Overlong, Bos, Eval, EvalEvery, EvalK, TensorBoard,
    };

    /// <summary>Parses <paramref name="args"/>.</summary>
    /// <exception cref="ArgumentException">A flag, value or combination is invalid; the message names the flag.</exception>
    public static HfRlOptions Parse(IReadOnlyList<string> args) => SampleCommandLine.Parse(Command, args, Bind);

    /// <summary>The entry point's view: the options, or an exit code after help or errors (written to <paramref name="error"/>).</summary>
    public static CommandLineResult<HfRlOptions> Run(IReadOnlyList<string> args, TextWriter output, TextWriter error) =>
        SampleCommandLine.Run("hfrl", Command, args, Bind, output, error);

    private static HfRlOptions Bind(ParseResult r) => new HfRlOptions
    {
        ModelDirectory = r.GetValue(Model)!, PromptsPath = r.GetValue(Prompts)!, Steps = r.GetValue(Steps), Seed = r.GetValue(Seed),
        OutputDirectory = r.GetValue(Out)!, CheckpointEvery = r.GetValue(CheckpointEvery), Resume = r.GetValue(Resume),
        AllowChangedSettings = r.GetValue(AllowChangedSettings), LearningRate = r.GetValue(LearningRate), GroupSize = r.GetValue(Group),
        PromptsPerStep = r.GetValue(PromptsPerStep), MaxNewTokens = r.GetValue(MaxNewTokens), Temperature = r.GetValue(Temperature),
        Template = r.GetValue(Template), Workers = r.GetValue(Workers), Tlt = r.GetValue(Tlt) == "on", DrafterPath = r.GetValue(Drafter),
        FormatPattern = r.GetValue(Format), FormatWeight = r.GetValue(FormatWeight), Context = r.GetValue(Context),
        Overlong = r.GetValue(Overlong) switch
        {
            "truncate-left" => OverlongPromptPolicy.TruncateLeft,
            _ => OverlongPromptPolicy.Reject,
        },
        AddBos = r.GetValue(Bos) switch
        {
            "on" => true,
            "off" => false,
            _ => null,
        },
        EvalPath = r.GetValue(Eval), EvalEvery = r.GetValue(EvalEvery), EvalK = r.GetValue(EvalK), TensorBoardDirectory = r.GetValue(TensorBoard),
    }.Validate();

    private static Option<int> WithoutDefault(Option<int> option)
    {
        option.DefaultValueFactory = null;   // absent = 0, which the flag itself does not accept
        return option;
    }
}
