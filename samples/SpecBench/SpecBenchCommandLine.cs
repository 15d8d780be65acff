// SpecBench's command line (System.CommandLine): --quick, --json FILE, --threads N, --shared DIR and
// --only DRAFTERS, with defaults and ranges in --help; a bad value or an unknown drafter name is refused
// with the flag named (exit code 2). The drafter studies' flags are in StudyCommandLine.
using System.CommandLine;
using TltTrainer.Samples;

namespace SpecBench;

/// <summary>Parses SpecBench's arguments into <see cref="SpecBenchOptions"/>.</summary>
internal static class SpecBenchCommandLine
{
    private static readonly Option<bool> Quick = SampleOption.Flag("--quick", "Fewer repeats, shapes and tokens (a few minutes).");
    private static readonly Option<string?> Json = SampleOption.Text("--json", "Also write every number to this JSON file.", "FILE");
    private static readonly Option<int> Threads = SampleOption.Int("--threads", "Torch threads (default: every core of this machine).", new SpecBenchOptions().Threads, ValueRange.AtLeast(1));
    private static readonly Option<string?> Shared = SampleOption.Text("--shared",
        "Where the TinyStories-656K checkpoint is: DIR/models/tinystories-656k, DIR/tinystories-656k or DIR itself "
        + "(default: shared/models/tinystories-656k above the repository root; the real-model table is skipped without it).", "DIR");
    private static readonly Option<bool> RealScale = SampleOption.Flag("--real-scale",
        "Only the real-scale table: a random-weight Qwen2.5-0.5B-shaped bf16 model (or --model): step times, sampling overhead, verification cost, oracle drafter, reduced draft head.");
    private static readonly Option<string?> Model = SampleOption.Text("--model", "With --real-scale: a HuggingFace model folder to load (bf16) instead of random weights.", "DIR");
    private static readonly Option<IReadOnlyList<string>?> Only = new("--only")
    {
        Description = $"Comma-separated drafters to measure beside plain decoding, of: {string.Join(", ", SpeculativeBench.DrafterNames)} (default: all).",
        HelpName = "DRAFTERS",
        Arity = ArgumentArity.OneOrMore,   // repeated: the last one wins, as for every flag of the samples
        CustomParser = result =>
        {
            string[] names = [];
            foreach (var token in result.Tokens)
            {
                names = token.Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                string? unknown = names.FirstOrDefault(n => !SpeculativeBench.DrafterNames.Contains(n));
                if (names.Length > 0 && unknown is null) continue;
                result.AddError($"--only: {(unknown is null ? "no drafter named" : $"'{unknown}' is not a drafter")}; valid: {string.Join(", ", SpeculativeBench.DrafterNames)}.");
                return null;
            }
            return names;
        },
    };

    /// <summary>The command, for --help and parsing.</summary>
    public static RootCommand Command { get; } = CreateCommand();

    /// <summary>Parses <paramref name="args"/>.</summary>
    /// <exception cref="ArgumentException">A flag or value is invalid; the message names the flag.</exception>
    public static SpecBenchOptions Parse(IReadOnlyList<string> args) => SampleCommandLine.Parse(Command, args, Bind);

    /// <summary>The entry point's view: the options, or an exit code after help or errors (written to <paramref name="error"/>).</summary>
    public static CommandLineResult<SpecBenchOptions> Run(IReadOnlyList<string> args, TextWriter output, TextWriter error) =>
        SampleCommandLine.Run("specbench", Command, args, Bind, output, error);

    private static SpecBenchOptions Bind(ParseResult r) => new()
    {
        Quick = r.GetValue(Quick), JsonPath = r.GetValue(Json), Threads = r.GetValue(Threads), SharedDirectory = r.GetValue(Shared), Only = r.GetValue(Only),
        RealScale = r.GetValue(RealScale), ModelDirectory = r.GetValue(Model), Study = StudyCommandLine.Bind(r, r.GetValue(RealScale)),
    };

    private static RootCommand CreateCommand()
    {
        var command = new RootCommand("SpecBench: decode throughput, and speculative vs plain decoding side by side in one run; or one of the drafter studies.")
        {
            Quick, Json, Threads, Shared, Only, RealScale, Model,
        };
        foreach (var option in StudyCommandLine.All) command.Options.Add(option);
        return command;
    }
}
