// Settings of the Quickstart: defaults, then an optional JSON config file (--config, snake_case field
// names, unknown fields rejected by name), then command-line flags, each overriding the one before.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Quickstart;

/// <summary>Settings of one Quickstart invocation.</summary>
internal sealed record QuickstartOptions
{
    public int Steps { get; init; } = 12;
    public ulong Seed { get; init; } = 1;
    public string OutputDirectory { get; init; } = "tlt-quickstart";
    public string? JsonPath { get; init; }
    public bool Tlt { get; init; } = true;
    public bool Compare { get; init; }
    public double LearningRate { get; init; } = 3e-5;
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

    private const string Usage = "valid: --config FILE, --steps N, --seed S, --out DIR, --json FILE, --tlt on|off, --compare, --lr X, "
        + "--prompts N, --group N, --max-new-tokens N, --temperature T, --workers N, --plain, --eval-prompts N, --eval-every N, --tensorboard DIR.";

    private static readonly JsonSerializerOptions ConfigJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    public static QuickstartOptions Parse(string[] args)
    {
        var o = new QuickstartOptions();
        int config = Array.IndexOf(args, "--config");
        if (config >= 0)
        {
            if (config + 1 >= args.Length) throw new ArgumentException("--config needs a value.");
            o = FromFile(args[config + 1]);
        }
        for (int i = 0; i < args.Length; i++)
        {
            string flag = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{flag} needs a value.");
            o = flag switch
            {
                "--config" => Skip(o, Value()),
                "--steps" => o with { Steps = PositiveInt(flag, Value()) },
                "--seed" => o with { Seed = ulong.TryParse(Value(), out var seed) ? seed : throw new ArgumentException("--seed must be a non-negative integer.") },
                "--out" => o with { OutputDirectory = Value() },
                "--json" => o with { JsonPath = Value() },
                "--tlt" => o with { Tlt = Value() switch { "on" => true, "off" => false, var v => throw new ArgumentException($"--tlt must be on or off, not '{v}'.") } },
                "--compare" => o with { Compare = true },
                "--lr" => o with { LearningRate = PositiveDouble(flag, Value()) },
                "--prompts" => o with { PromptsPerStep = PositiveInt(flag, Value()) },
                "--group" => o with { GroupSize = PositiveInt(flag, Value()) },
                "--max-new-tokens" => o with { MaxNewTokens = PositiveInt(flag, Value()) },
                "--temperature" => o with { Temperature = PositiveDouble(flag, Value()) },
                "--workers" => o with { Workers = PositiveInt(flag, Value()) },
                "--plain" => o with { Live = false },
                "--eval-prompts" => o with { EvalPrompts = NonNegativeInt(flag, Value()) },
                "--eval-every" => o with { EvalEvery = PositiveInt(flag, Value()) },
                "--tensorboard" => o with { TensorBoardDirectory = Value() },
                var unknown => throw new ArgumentException($"unknown option '{unknown}'; {Usage}"),
            };
        }
        return o.Validate();
    }

    /// <summary>Reads a JSON config (snake_case names, e.g. {"steps": 20, "learning_rate": 3e-5}).</summary>
    public static QuickstartOptions FromFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"config file {path} does not exist.", path);
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

    public QuickstartOptions Validate()
    {
        void Require(bool ok, string field, object value, string rule)
        {
            if (!ok) throw new ArgumentException($"{field} = {value} is invalid: {rule}.");
        }
        Require(Steps >= 1, "steps", Steps, "must be ≥ 1");
        Require(LearningRate > 0 && LearningRate <= 1, "learning_rate", LearningRate, "must lie in (0, 1] (RL fine-tuning uses about 1e-7 to 1e-4)");
        Require(PromptsPerStep >= 1, "prompts_per_step", PromptsPerStep, "must be ≥ 1");
        Require(GroupSize >= 2, "group_size", GroupSize, "must be ≥ 2 (group advantages need siblings)");
        Require(MaxNewTokens is >= 1 and <= 900, "max_new_tokens", MaxNewTokens, "must lie in [1, 900] (the context is 1024)");
        Require(Temperature > 0 && double.IsFinite(Temperature), "temperature", Temperature, "must be a finite number > 0");
        Require(Workers >= 1, "workers", Workers, "must be ≥ 1");
        Require(!string.IsNullOrWhiteSpace(OutputDirectory), "output_directory", OutputDirectory, "must name a folder");
        Require(EvalPrompts is >= 0 and <= 4096, "eval_prompts", EvalPrompts, "must lie in [0, 4096] (0 = no evaluation)");
        Require(EvalEvery >= 0 && (EvalEvery == 0 || EvalPrompts > 0), "eval_every", EvalEvery, "must be ≥ 0 and needs eval_prompts > 0");
        Require(TensorBoardDirectory is null || !string.IsNullOrWhiteSpace(TensorBoardDirectory), "tensorboard_directory", TensorBoardDirectory ?? "", "must name a folder");
        return this;
    }

    private static QuickstartOptions Skip(QuickstartOptions o, string _) => o;

    private static int NonNegativeInt(string flag, string value) =>
        int.TryParse(value, out var n) && n >= 0 ? n : throw new ArgumentException($"{flag} must be an integer ≥ 0, not '{value}'.");

    private static int PositiveInt(string flag, string value) =>
        int.TryParse(value, out var n) && n > 0 ? n : throw new ArgumentException($"{flag} must be a positive integer, not '{value}'.");

    private static double PositiveDouble(string flag, string value) =>
        double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var x) && x > 0 && double.IsFinite(x)
            ? x : throw new ArgumentException($"{flag} must be a positive number, not '{value}'.");
}
