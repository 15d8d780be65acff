// The Quickstart's command line (System.CommandLine): every flag with its default and range in --help, and
// --config FILE.json, whose snake_case fields are the same settings. Precedence: the defaults, then the
// config file, then every flag given on the command line (wherever it stands relative to --config). Errors
// name the flag, or the config field when the value came from the file; unknown flags and fields are refused.
using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using TltTrainer.Samples;

namespace Quickstart;

/// <summary>Parses the Quickstart's arguments into <see cref="QuickstartOptions"/>.</summary>
internal static class QuickstartCommandLine
{
    private static readonly QuickstartOptions Defaults = new();

    private static readonly JsonSerializerOptions ConfigJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private static readonly Option<string?> Config = SampleOption.Text("--config",
        "JSON file with the same settings in snake_case (e.g. {\"steps\": 20, \"learning_rate\": 3e-5}); the flags given win over it. "
        + "Fields not named after their flag: learning_rate (--lr), prompts_per_step (--prompts), group_size (--group), "
        + "output_directory (--out), json_path (--json), tensorboard_directory (--tensorboard), tlt (true/false), live (false = --plain).", "FILE");
    private static readonly Option<int> Steps = SampleOption.Int("--steps", "RL steps.", Defaults.Steps, QuickstartOptions.Ranges.Steps);
    private static readonly Option<ulong> Seed = SampleOption.Seed("--seed", "Seed of the prompts, the sampling and the update.", Defaults.Seed);
    private static readonly Option<string?> Out = SampleOption.Text("--out", "Output folder (metrics, report, charts).", "DIR", Defaults.OutputDirectory);
    private static readonly Option<string?> Json = SampleOption.Text("--json", "Also write the report's summary to this JSON file.", "FILE");
    private static readonly Option<string> Tlt = SampleOption.Choice("--tlt", "Rollouts with TLT (adaptive speculation, drafter trained on idle workers) or plain.",
        Defaults.Tlt ? "on" : "off", "on", "off");
    private static readonly Option<bool> Compare = SampleOption.Flag("--compare", "Run TLT off, then on, with the same seeds, step by step.");
    private static readonly Option<double> LearningRate = SampleOption.Number("--lr", "Learning rate.", Defaults.LearningRate, QuickstartOptions.Ranges.LearningRate);
    private static readonly Option<int> Prompts = SampleOption.Int("--prompts", "Prompts per step.", Defaults.PromptsPerStep, QuickstartOptions.Ranges.PromptsPerStep);
    private static readonly Option<int> Group = SampleOption.Int("--group", "Responses per prompt.", Defaults.GroupSize, QuickstartOptions.Ranges.GroupSize);
    private static readonly Option<int> MaxNewTokens = SampleOption.Int("--max-new-tokens", "Response budget in tokens.", Defaults.MaxNewTokens, QuickstartOptions.Ranges.MaxNewTokens);
    private static readonly Option<double> Temperature = SampleOption.Number("--temperature", "Sampling temperature.", Defaults.Temperature, QuickstartOptions.Ranges.Temperature, "T");
    private static readonly Option<int> Workers = SampleOption.Int("--workers", "Rollout workers.", Defaults.Workers, QuickstartOptions.Ranges.Workers);
    private static readonly Option<bool> Plain = SampleOption.Flag("--plain", "No live display (also off when the output is redirected).");
    private static readonly Option<int> EvalPrompts = SampleOption.Int("--eval-prompts",
        "Held-out chains (none a training prompt) answered greedily after the last step, reported by term bucket.", Defaults.EvalPrompts, QuickstartOptions.Ranges.EvalPrompts);
    private static readonly Option<int> EvalEvery = SampleOption.Int("--eval-every", "Evaluate after every N steps too.", Defaults.EvalEvery, QuickstartOptions.Ranges.EvalEvery);
    private static readonly Option<string?> TensorBoard = SampleOption.Text("--tensorboard", "TensorBoard event files in DIR/on and DIR/off.", "DIR");

    /// <summary>Each config field (snake_case) and the flag that sets it, for naming the source of a bad value.</summary>
    private static readonly Dictionary<string, Option> FlagOfField = new()
    {
        ["steps"] = Steps, ["seed"] = Seed, ["output_directory"] = Out, ["json_path"] = Json, ["tlt"] = Tlt, ["compare"] = Compare,
        ["learning_rate"] = LearningRate, ["prompts_per_step"] = Prompts, ["group_size"] = Group, ["max_new_tokens"] = MaxNewTokens,
        ["temperature"] = Temperature, ["workers"] = Workers, ["live"] = Plain, ["eval_prompts"] = EvalPrompts, ["eval_every"] = EvalEvery,
        ["tensorboard_directory"] = TensorBoard,
    };

    /// <summary>The command, for --help and parsing.</summary>
    public static RootCommand Command { get; } = new("TltTrainer Quickstart: RL with TLT on the embedded long-tail task, on this machine's CPU cores.")
    {
        Config, Steps, Seed, Out, Json, Tlt, Compare, LearningRate, Prompts, Group, MaxNewTokens, Temperature, Workers, Plain, EvalPrompts, EvalEvery, TensorBoard,
    };

    /// <summary>Parses <paramref name="args"/>.</summary>
    /// <exception cref="ArgumentException">A flag, value or config field is invalid; the message names it.</exception>
    /// <exception cref="FileNotFoundException">The config file does not exist.</exception>
    public static QuickstartOptions Parse(IReadOnlyList<string> args) => SampleCommandLine.Parse(Command, args, Bind);

    /// <summary>The entry point's view: the options, or an exit code after help or errors (written to <paramref name="error"/>).</summary>
    public static CommandLineResult<QuickstartOptions> Run(IReadOnlyList<string> args, TextWriter output, TextWriter error) =>
        SampleCommandLine.Run("quickstart", Command, args, Bind, output, error);

    /// <summary>Reads a JSON config (snake_case names, e.g. {"steps": 20, "learning_rate": 3e-5}); unknown fields are refused by name.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ArgumentException">The file is not a valid config; the message names the file and the field.</exception>
    public static QuickstartOptions ReadConfig(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"--config: file {path} does not exist.", path);
        try
        {
            return JsonSerializer.Deserialize<QuickstartOptions>(File.ReadAllText(path), ConfigJson)
                ?? throw new ArgumentException($"config file {path} holds null, not an object.");
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"config file {path}: {e.Message}", e);
        }
    }

    private static QuickstartOptions Bind(ParseResult result)
    {
        var o = result.GetValue(Config) is { } path ? ReadConfig(path) : new QuickstartOptions();
        bool Given(Option option) => result.GetResult(option) is { Implicit: false };
        T Pick<T>(Option<T> option, T current) => Given(option) ? result.GetValue(option)! : current;
        o = o with
        {
            Steps = Pick(Steps, o.Steps), Seed = Pick(Seed, o.Seed), OutputDirectory = Pick(Out, o.OutputDirectory)!, JsonPath = Pick(Json, o.JsonPath),
            Tlt = Given(Tlt) ? result.GetValue(Tlt) == "on" : o.Tlt, Compare = o.Compare || result.GetValue(Compare),
            LearningRate = Pick(LearningRate, o.LearningRate), PromptsPerStep = Pick(Prompts, o.PromptsPerStep), GroupSize = Pick(Group, o.GroupSize),
            MaxNewTokens = Pick(MaxNewTokens, o.MaxNewTokens), Temperature = Pick(Temperature, o.Temperature), Workers = Pick(Workers, o.Workers),
            Live = o.Live && !result.GetValue(Plain), EvalPrompts = Pick(EvalPrompts, o.EvalPrompts), EvalEvery = Pick(EvalEvery, o.EvalEvery),
            TensorBoardDirectory = Pick(TensorBoard, o.TensorBoardDirectory),
        };
        // A value that came from a flag is named by the flag; one from the config file by its field.
        return o.Validate(field => FlagOfField.TryGetValue(field, out var flag) && Given(flag) ? flag.Name : field);
    }
}
