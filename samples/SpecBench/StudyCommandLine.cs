// The flags of SpecBench's drafter studies (issue 14): --adaptation, --tinystories-drafter and --positions
// select a study instead of the throughput tables; the other flags here tune one study each, with the
// library's defaults shown in --help. A tuning flag given without a study that reads it is refused, naming
// the flag, and so are two studies at once.
using System.CommandLine;
using TltTrainer.Drafting;
using TltTrainer.Samples;

namespace SpecBench;

/// <summary>The study flags of SpecBench's command line and their binding to <see cref="StudyOptions"/>.</summary>
internal static class StudyCommandLine
{
    private static readonly OnlineDrafterOptions Online = new();
    private static readonly HiddenStateBufferOptions Buffer = AdaptationSettings.DefaultBuffer;
    private static readonly TinyStoriesRecipe Recipe = TinyStoriesDrafterBench.Recipe;

    private static readonly Option<bool> Adaptation = SampleOption.Flag("--adaptation",
        "Study: online drafter training against a moving policy, scored against a ceiling (and tinystories_drafter unless --skip-tinystories).");
    private static readonly Option<bool> TinyStories = SampleOption.Flag("--tinystories-drafter", "Study: the TinyStories-656K drafter recipe and its learning curve.");
    private static readonly Option<bool> Positions = SampleOption.Flag("--positions", "Study: accepted length by response position on the embedded target.");
    private static readonly Option<bool> TailRounds = SampleOption.Flag("--tail-rounds",
        "Study: what a speculative round costs in the RL job's long tail (the 4 longest of 64 job requests at batch 4, plain and EAGLE chain side by side).");

    private static readonly Option<IReadOnlyList<string>?> Scenarios = new("--scenarios")
    {
        Description = $"With --adaptation: comma-separated policy shifts, of: {string.Join(", ", AdaptationScenario.Known.Select(s => s.Name))} (default: all).",
        HelpName = "NAMES",
        Arity = ArgumentArity.OneOrMore,   // repeated: the last one wins
        CustomParser = result =>
        {
            string[] names = [];
            var valid = AdaptationScenario.Known.Select(s => s.Name).ToList();
            foreach (var token in result.Tokens)
            {
                names = token.Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                string? unknown = names.FirstOrDefault(n => !valid.Contains(n));
                if (names.Length > 0 && unknown is null) continue;
                result.AddError($"--scenarios: {(unknown is null ? "no scenario named" : $"'{unknown}' is not a scenario")}; valid: {string.Join(", ", valid)}.");
                return null;
            }
            return names;
        },
    };
    private static readonly Option<int> EvalPrompts = SampleOption.Int("--eval-prompts", "With --adaptation or --positions: held-out requests scored.",
        AdaptationSettings.DefaultEvalPrompts, ValueRange.AtLeast(1));
    private static readonly Option<int> BudgetSteps = SampleOption.Int("--budget-steps",
        "With --adaptation: online drafter steps per RL step, fixed for comparing recipes.", 0, ValueRange.AtLeast(0, "0 = what the shift's idle time buys"));
    private static readonly Option<int> CeilingSteps = SampleOption.Int("--ceiling-steps", "With --adaptation: offline steps of the ceiling on fresh generations.",
        AdaptationSettings.DefaultCeilingSteps, ValueRange.AtLeast(0, "0 = skip"));
    private static readonly Option<int> SameDataCeilingSteps = SampleOption.Int("--same-data-ceiling-steps",
        "With --adaptation: offline steps of the ceiling on the online phase's own rollouts.", AdaptationSettings.DefaultSameDataCeilingSteps, ValueRange.AtLeast(0, "0 = skip"));
    private static readonly Option<bool> Reuse = SampleOption.Flag("--reuse", "With --adaptation: reuse the moved policy (and its step metrics) an earlier run of the same shift cached.");
    private static readonly Option<bool> ShiftOnly = SampleOption.Flag("--shift-only",
        "With --adaptation: only move the policy and cache it with its step metrics (the one timed part: run it alone on a quiet machine, then the rest with --reuse); no tinystories_drafter.");
    private static readonly Option<bool> SkipTinyStories = SampleOption.Flag("--skip-tinystories", "With --adaptation: leave tinystories_drafter out.");

    private static readonly Option<int> OnlineWindows = SampleOption.Int("--online-windows", "With --adaptation: buffer windows per online step.", Online.WindowsPerStep, ValueRange.AtLeast(1));
    private static readonly Option<int> OnlineRow = SampleOption.Int("--online-row", "With --adaptation: pairs per packed row.", Online.RowLength, ValueRange.AtLeast(2));
    private static readonly Option<int> ContextTokens = SampleOption.Int("--context-tokens", "With --adaptation: longest prompt context recomputed per window.",
        Online.ContextTokens, ValueRange.AtLeast(0, "0 = never"));
    private static readonly Option<double> OnlineLr = SampleOption.Number("--online-lr", "With --adaptation: online peak learning rate.", Online.Training.LearningRate, ValueRange.Positive);
    private static readonly Option<int> OnlineWarmup = SampleOption.Int("--online-warmup", "With --adaptation: online warm-up steps.", Online.Training.WarmupSteps, ValueRange.AtLeast(0));
    private static readonly Option<int> OnlineDecay = SampleOption.Int("--online-decay", "With --adaptation: online cosine decay steps.", Online.Training.DecaySteps,
        ValueRange.AtLeast(0, "0 = constant"));
    private static readonly Option<int> OnlineUnroll = SampleOption.Int("--online-unroll", "With --adaptation: chain steps trained per pair.", Online.Training.UnrollSteps, ValueRange.AtLeast(1));
    private static readonly Option<double> OnlineTokenLoss = SampleOption.Number("--online-token-loss", "With --adaptation: weight of the token loss.",
        Online.Training.TokenLossWeight, ValueRange.AtLeast(0));
    private static readonly Option<double> OnlineHiddenLoss = SampleOption.Number("--online-hidden-loss", "With --adaptation: weight of the hidden-state loss.",
        Online.Training.HiddenLossWeight, ValueRange.AtLeast(0));
    private static readonly Option<bool> OnlineRestart = SampleOption.Flag("--online-restart",
        $"With --adaptation: restart the learning-rate schedule at every rollout (default: {(Online.RestartEachRollout ? "on" : "off")}).");
    private static readonly Option<int> WindowTokens = SampleOption.Int("--window-tokens", "With --adaptation: response pairs the buffer keeps per request.", Buffer.WindowTokens,
        ValueRange.AtLeast(2));
    private static readonly Option<int> RecentSteps = SampleOption.Int("--recent-steps", "With --adaptation: the buffer samples windows of this many newest RL steps.",
        Buffer.RecentSteps, ValueRange.AtLeast(1));

    private static readonly Option<int> PositionsRow = SampleOption.Int("--positions-row", "With --positions: pairs per row of the whole-sequence drafter variants.", 1024,
        ValueRange.AtLeast(2));

    private static readonly Option<string?> TsName = SampleOption.Text("--ts-name", "TinyStories recipe: its label in the report.", "NAME", Recipe.Name);
    private static readonly Option<int> TsStories = SampleOption.Int("--ts-stories", "TinyStories recipe: generations trained on.", Recipe.Stories, ValueRange.AtLeast(1));
    private static readonly Option<int> TsTokens = SampleOption.Int("--ts-tokens", "TinyStories recipe: most tokens per generation.", Recipe.StoryTokens, ValueRange.Between(2, 512));
    private static readonly Option<bool> TsSampled = SampleOption.Flag("--ts-sampled", "TinyStories recipe: generations sampled at T = 1 throughout (default: greedy after --ts-greedy-after).");
    private static readonly Option<int> TsGreedyAfter = SampleOption.Int("--ts-greedy-after", "TinyStories recipe: tokens sampled from BOS before a generation turns greedy.",
        Recipe.GreedyAfter ?? 16, ValueRange.AtLeast(1));
    private static readonly Option<int> TsEvery = SampleOption.Int("--ts-every", "TinyStories recipe: steps between points of the learning curve.", Recipe.EvaluateEvery, ValueRange.AtLeast(1));
    private static readonly Option<int> TsSteps = SampleOption.Int("--ts-steps", "TinyStories recipe: training steps.", Recipe.Warmup.Steps, ValueRange.AtLeast(1));
    private static readonly Option<int> TsBatch = SampleOption.Int("--ts-batch", "TinyStories recipe: generations per step.", Recipe.Warmup.SequencesPerStep, ValueRange.AtLeast(1));
    private static readonly Option<double> TsLr = SampleOption.Number("--ts-lr", "TinyStories recipe: peak learning rate.", Recipe.Warmup.LearningRate, ValueRange.Positive);
    private static readonly Option<bool> TsConstant = SampleOption.Flag("--ts-constant", "TinyStories recipe: constant learning rate (default: cosine decay).");
    private static readonly Option<int> TsUnroll = SampleOption.Int("--ts-unroll", "TinyStories recipe: chain steps trained per pair.", Recipe.Warmup.UnrollSteps, ValueRange.AtLeast(1));
    private static readonly Option<double> TsNoise = SampleOption.Number("--ts-noise", "TinyStories recipe: uniform feature noise.", Recipe.Warmup.FeatureNoise, ValueRange.AtLeast(0));
    private static readonly Option<double> TsTokenLoss = SampleOption.Number("--ts-token-loss", "TinyStories recipe: weight of the token loss.", Recipe.Warmup.TokenLossWeight,
        ValueRange.AtLeast(0));
    private static readonly Option<double> TsHiddenLoss = SampleOption.Number("--ts-hidden-loss", "TinyStories recipe: weight of the hidden-state loss.",
        Recipe.Warmup.HiddenLossWeight, ValueRange.AtLeast(0));

    private static readonly Option[] AdaptationFlags =
    [
        Scenarios, BudgetSteps, CeilingSteps, SameDataCeilingSteps, Reuse, ShiftOnly, SkipTinyStories, OnlineWindows, OnlineRow, ContextTokens, OnlineLr, OnlineWarmup,
        OnlineDecay, OnlineUnroll, OnlineTokenLoss, OnlineHiddenLoss, OnlineRestart, WindowTokens, RecentSteps,
    ];

    private static readonly Option[] TinyStoriesFlags = [TsName, TsStories, TsTokens, TsSampled, TsGreedyAfter, TsEvery, TsSteps, TsBatch, TsLr, TsConstant, TsUnroll, TsNoise, TsTokenLoss, TsHiddenLoss];

    /// <summary>Every study flag, for the root command.</summary>
    public static IReadOnlyList<Option> All { get; } = [Adaptation, TinyStories, Positions, TailRounds, EvalPrompts, PositionsRow, .. AdaptationFlags, .. TinyStoriesFlags];

    /// <summary>The study the flags select, or null for the throughput tables.</summary>
    /// <exception cref="ArgumentException">Two studies (or a study and --real-scale), a tuning flag without its study, or an invalid recipe; the message names the flag.</exception>
    public static StudyOptions? Bind(ParseResult r, bool realScale)
    {
        bool Given(Option option) => r.GetResult(option) is { Implicit: false };
        var selected = new[] { (Adaptation, Study.Adaptation), (TinyStories, Study.TinyStoriesDrafter), (Positions, Study.Positions), (TailRounds, Study.TailRounds) }.Where(s => r.GetValue(s.Item1)).ToList();
        if (selected.Count > 1 || (selected.Count == 1 && realScale))
            throw new ArgumentException($"{selected[0].Item1.Name} and {(selected.Count > 1 ? selected[1].Item1.Name : "--real-scale")} cannot run together; pick one.");
        Study? study = selected.Count == 1 ? selected[0].Item2 : null;
        Require(Given, AdaptationFlags, study is Study.Adaptation, "--adaptation");
        Require(Given, TinyStoriesFlags, study is Study.Adaptation or Study.TinyStoriesDrafter, "--adaptation or --tinystories-drafter");
        Require(Given, [EvalPrompts], study is Study.Adaptation or Study.Positions, "--adaptation or --positions");
        Require(Given, [PositionsRow], study is Study.Positions, "--positions");
        if (study is not { } s) return null;
        return new StudyOptions(s, AdaptationOf(r), TinyStoriesOf(r), r.GetValue(SkipTinyStories), r.GetValue(EvalPrompts), r.GetValue(PositionsRow));
    }

    private static void Require(Func<Option, bool> given, IEnumerable<Option> flags, bool allowed, string study)
    {
        if (!allowed && flags.FirstOrDefault(given) is { } flag) throw new ArgumentException($"{flag.Name} applies only with {study}.");
    }

    private static AdaptationSettings AdaptationOf(ParseResult r)
    {
        var names = r.GetValue(Scenarios) ?? AdaptationScenario.Known.Select(s => s.Name).ToList();
        var online = Online with
        {
            WindowsPerStep = r.GetValue(OnlineWindows), RowLength = r.GetValue(OnlineRow), ContextTokens = r.GetValue(ContextTokens),
            RestartEachRollout = Online.RestartEachRollout || r.GetValue(OnlineRestart),
            Training = Online.Training with
            {
                LearningRate = r.GetValue(OnlineLr), WarmupSteps = r.GetValue(OnlineWarmup), DecaySteps = r.GetValue(OnlineDecay), UnrollSteps = r.GetValue(OnlineUnroll),
                TokenLossWeight = r.GetValue(OnlineTokenLoss), HiddenLossWeight = r.GetValue(OnlineHiddenLoss),
            },
        };
        var buffer = Buffer with { WindowTokens = r.GetValue(WindowTokens), RecentSteps = r.GetValue(RecentSteps) };
        Checked(() => online.Validate(), "--online-token-loss and --online-hidden-loss");
        int budget = r.GetValue(BudgetSteps);
        return new AdaptationSettings(AdaptationScenario.Known.Where(s => names.Contains(s.Name)).ToList(), r.GetValue(EvalPrompts), budget == 0 ? null : budget,
            r.GetValue(CeilingSteps), r.GetValue(SameDataCeilingSteps), online, buffer, r.GetValue(Reuse), r.GetValue(ShiftOnly));
    }

    private static TinyStoriesRecipe TinyStoriesOf(ParseResult r)
    {
        var w = Recipe.Warmup with
        {
            Steps = r.GetValue(TsSteps), SequencesPerStep = r.GetValue(TsBatch), LearningRate = r.GetValue(TsLr), CosineDecay = !r.GetValue(TsConstant),
            UnrollSteps = r.GetValue(TsUnroll), FeatureNoise = r.GetValue(TsNoise), TokenLossWeight = r.GetValue(TsTokenLoss), HiddenLossWeight = r.GetValue(TsHiddenLoss),
        };
        Checked(() => w.Validate(), "--ts-token-loss and --ts-hidden-loss");
        return Recipe with
        {
            Name = r.GetValue(TsName)!, Stories = r.GetValue(TsStories), StoryTokens = r.GetValue(TsTokens), GreedyAfter = r.GetValue(TsSampled) ? null : r.GetValue(TsGreedyAfter),
            EvaluateEvery = r.GetValue(TsEvery), Warmup = w,
        };
    }

    // The flags' ranges catch single values; what is left is a combination (both loss weights 0), named by its flags.
    private static void Checked(Action validate, string flags)
    {
        try
        {
            validate();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{flags}: {e.Message}", e);
        }
    }
}
