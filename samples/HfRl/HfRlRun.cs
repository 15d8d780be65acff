// One RL run on a HuggingFace model with TLT: load and check the inputs, build the TLT rollout stack
// (TltRollout: workers with adaptive speculation over none / EAGLE chain / EAGLE tree / n-gram chain,
// online drafter training on idle compute; plain workers with --tlt off), then step RlTrainer with the
// math reward (plus an optional format reward), one log line and one metrics line per step, a checkpoint
// every --checkpoint-every steps and at the end. A resumed run continues from the latest checkpoint in
// --out and drops metrics lines of steps after it (they are redone). With --eval the held-out file is
// answered greedily (and --eval-k sampled times) every --eval-every steps and after the last, through the
// stack's evaluation engine (speculative with TLT on); --tensorboard adds an event file beside the JSONL.
// Callable in-process (the tests do).
// Under MPI every rank runs this with its communicator: rank 0 alone logs and writes files (metrics,
// checkpoints, the drafter); the others roll out their shard, train and wait for it.
using System.Text.Json;
using TltTrainer.Distributed;
using TltTrainer.Evaluation;
using TltTrainer.IO;
using TltTrainer.Models;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Telemetry;
using TltTrainer.Tlt;
using TltTrainer.Tokenization;

namespace HfRl;

/// <summary>What a run did.</summary>
/// <param name="StartStep">Step the run started from (0, or the resumed checkpoint's).</param>
/// <param name="Steps">Metrics of the steps this invocation ran.</param>
/// <param name="LastCheckpoint">Newest checkpoint folder, or null.</param>
/// <param name="MetricsPath">The metrics JSONL file.</param>
/// <param name="Cancelled">Stopped early by the cancellation token.</param>
/// <param name="Diverged">Why the run stopped because the policy diverged (no checkpoint was written after it), or null.</param>
internal sealed record HfRlResult(int StartStep, IReadOnlyList<StepMetrics> Steps, string? LastCheckpoint, string MetricsPath, bool Cancelled,
    string? Diverged = null);

/// <summary>The HfRl sample's run.</summary>
internal static class HfRlRun
{
    /// <summary>Runs RL up to <see cref="HfRlOptions.Steps"/>; Ctrl+C-style cancellation stops after the current phase and saves.</summary>
    /// <exception cref="ArgumentException">An option or input is invalid; the message names it.</exception>
    /// <exception cref="FileNotFoundException">A file is missing; the message names it.</exception>
    /// <exception cref="DirectoryNotFoundException">The model folder does not exist.</exception>
    /// <exception cref="InvalidDataException">A file is malformed (the prompt file's errors name the line).</exception>
    /// <param name="options">The run's settings.</param>
    /// <param name="log">Progress lines (rank 0 only).</param>
    /// <param name="cancellationToken">Stops after the current phase.</param>
    /// <param name="ranks">The job's ranks (MPI), or null for a single process.</param>
    public static HfRlResult Run(HfRlOptions options, TextWriter log, CancellationToken cancellationToken = default, ICommunicator? ranks = null)
    {
        ranks ??= SingleProcessCommunicator.Instance;
        bool writer = ranks.Rank == 0;
        if (!writer) log = TextWriter.Null;
        options.Validate();
        HfRlInputs.CheckModelFolder(options.ModelDirectory);
        var prompts = HfRlInputs.ReadPrompts(options.PromptsPath);
        var heldOut = options.EvalPath is null ? null : HfRlInputs.ReadPrompts(options.EvalPath, "--eval");
        if (options.DrafterPath is { } drafterPath && !File.Exists(drafterPath))
            throw new FileNotFoundException($"--drafter: file '{Path.GetFullPath(drafterPath)}' does not exist.", drafterPath);
        // One run per output folder: a second one would interleave metrics and clean up the first one's checkpoint writes.
        using var outLock = writer ? DirectoryLock.Acquire(options.OutputDirectory, "--out") : null;
        string checkpoints = Path.Combine(options.OutputDirectory, "checkpoints");
        string? resumeFrom = CheckCheckpoints(checkpoints, options, log);

        using var policy = HfCheckpoint.Load(options.ModelDirectory);
        var tokenizer = HfRlInputs.LoadTokenizer(options.ModelDirectory, options.AddBos);
        HfRlInputs.CheckVocabulary(tokenizer, policy.Config, options.ModelDirectory);
        HfRlInputs.CheckWeightsFinite(policy, options.ModelDirectory);
        var template = options.Template is null ? PromptTemplate.Identity : new PromptTemplate(options.Template);
        int context = HfRlInputs.CheckLengths(prompts, tokenizer, template, options.PromptsPath, options.Context, options.MaxNewTokens,
            policy.Config.MaxPositions, options.Overlong);
        if (heldOut is not null)
            HfRlInputs.CheckLengths(heldOut, tokenizer, template, options.EvalPath!, context, options.MaxNewTokens, policy.Config.MaxPositions, options.Overlong);
        var stop = StopTokens(tokenizer, policy.Config);
        log.WriteLine($"Model {Path.GetFullPath(options.ModelDirectory)}: {policy.Config.ModelType}, {policy.parameters().Sum(p => p.numel()):N0} parameters, "
            + $"vocabulary {policy.Config.VocabSize} (tokenizer {tokenizer.VocabularySize}), context {context}, stop tokens [{string.Join(", ", stop)}]");
        if (stop.Count == 0) log.WriteLine("  warning: no EOS token in the tokenizer or config.json; every response runs to --max-new-tokens.");
        log.WriteLine($"Prompts {options.PromptsPath}: {prompts.Count}; TLT {(options.Tlt ? "on" : "off")}, {options.Workers} worker(s)"
            + (ranks.Size > 1 ? $" on each of {ranks.Size} ranks ({ranks.Description})" : "")
            + (heldOut is null ? "" : $"; held-out {options.EvalPath}: {heldOut.Count}, evaluated " + (options.EvalEvery > 0 ? $"every {options.EvalEvery} steps and " : "") + "at the end"));

        using var startDrafter = !options.Tlt ? null
            : options.DrafterPath is null ? new EagleDraftModel(policy.Config, seed: (long)(options.Seed % long.MaxValue))
            : EagleDraftModel.Load(options.DrafterPath, policy.Config);
        using var stack = TltRollout.Create(policy, startDrafter, new TltRolloutOptions
        {
            Enabled = options.Tlt, Workers = options.Workers, MaxSequenceLength = context, Seed = (int)(options.Seed % int.MaxValue),
            ThreadsPerWorker = Math.Max(1, Communicator.CoresPerRank / options.Workers),
        });
        using var trainer = new RlTrainer(policy, tokenizer, stack.Rollout, Rewards(options), new PromptSampler(prompts, options.Seed), new RlTrainerOptions
        {
            PromptsPerStep = options.PromptsPerStep, GroupSize = options.GroupSize, LearningRate = options.LearningRate, Seed = options.Seed,
            Template = template, OverlongPrompts = options.Overlong, TotalSteps = options.Steps,
            Sampling = new SamplingOptions { Temperature = options.Temperature, MaxNewTokens = options.MaxNewTokens, StopTokens = stop },
        })
        {
            AccuracyCheck = IsCorrect,
            Tlt = stack.OnlineDrafter,
            Drafter = stack.TrainingDrafter,
            Communicator = ranks,
            Evaluation = heldOut is null ? null : new EvaluationSchedule(new RolloutEvaluator(stack.EvaluationEngine, tokenizer,
                heldOut.Select(e => new EvaluationExample(e.Prompt, e.Answer)).ToList(), new EvaluationOptions
                {
                    MaxNewTokens = options.MaxNewTokens, StopTokens = stop, Template = template, OverlongPrompts = options.Overlong,
                    PassAtK = options.EvalK, Temperature = options.Temperature, Seed = options.Seed,
                }, Rewards(options), IsCorrect), options.EvalEvery, options.Steps),
        };

        if (resumeFrom is not null)
        {
            var changes = Resume(trainer, resumeFrom, options);
            log.WriteLine($"Resumed from {resumeFrom} (step {trainer.Step})");
            if (changes.Count > 0) log.WriteLine($"  warning: settings changed since the checkpoint: {string.Join("; ", changes.Select(Describe))} (recorded in metrics.jsonl as run/settings_changed)");
        }
        else if (options.Resume) log.WriteLine($"No checkpoint in {Path.GetFullPath(checkpoints)}; starting from step 0.");
        int startStep = trainer.Step;
        string metricsPath = Path.Combine(options.OutputDirectory, "metrics.jsonl");
        if (writer) KeepMetricsBefore(metricsPath, startStep);
        using var sink = writer ? new JsonlMetricsSink(metricsPath) : null;
        using var tensorBoard = writer && options.TensorBoardDirectory is { } tb ? new TensorBoardMetricsSink(tb) : null;
        if (tensorBoard is not null) log.WriteLine($"TensorBoard: {tensorBoard.FilePath}");

        var done = new List<StepMetrics>();
        string? saved = resumeFrom;
        int savedStep = startStep;
        bool cancelled = false;
        try
        {
            while (trainer.Step < options.Steps)
            {
                var m = trainer.RunStep(cancellationToken);
                sink?.Write(m);
                tensorBoard?.Write(m);
                done.Add(m);
                log.WriteLine(Line(m, options.Tlt));
                if (trainer.Step % options.CheckpointEvery == 0 || trainer.Step == options.Steps)
                    (saved, savedStep) = (trainer.SaveCheckpoint(checkpoints), trainer.Step);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            cancelled = true;
            log.WriteLine($"Stopped after {trainer.Step} step(s).");
        }
        catch (PolicyDivergedException e)
        {
            // The policy in memory is broken: nothing of it is saved, and the checkpoints written so far stay the run's last word.
            string last = saved is null ? "none was written; start again" : $"the last good checkpoint is {saved} (step {savedStep})";
            string lost = trainer.Step > savedStep ? $"; steps {savedStep}–{trainer.Step - 1} after it are lost" : "";
            string hint = saved is null ? " with a lower --lr" : "; resume from it with a lower --lr and --resume --allow-changed-settings";
            var message = $"{e.Message}. Nothing was saved: {last}{lost}{hint}.";
            log.WriteLine(message);
            return new HfRlResult(startStep, done, saved, metricsPath, Cancelled: false, Diverged: message);
        }
        if (trainer.Step > savedStep) saved = trainer.SaveCheckpoint(checkpoints);   // a cancelled step leaves no trace: the state is whole
        if (saved is not null) log.WriteLine($"Checkpoint: {saved}");
        if (stack.TrainingDrafter is { } drafter && writer)
        {
            string drafterOut = Path.Combine(options.OutputDirectory, "drafter.safetensors");
            drafter.Save(drafterOut);
            log.WriteLine($"Drafter: {drafterOut} (start a later run from it with --drafter)");
        }
        return new HfRlResult(startStep, done, saved, metricsPath, cancelled);
    }

    /// <summary>The checkpoint to resume from (null: start at step 0), after refusing what would mix two runs.</summary>
    private static string? CheckCheckpoints(string checkpoints, HfRlOptions options, TextWriter log)
    {
        string? latest = RlCheckpoint.Latest(checkpoints);
        var incomplete = RlCheckpoint.Incomplete(checkpoints);
        string folder = Path.GetFullPath(options.OutputDirectory);
        if (!options.Resume && (latest is not null || incomplete.Count > 0))
            throw new ArgumentException($"--out: '{folder}' already holds checkpoints ({Path.GetFileName(latest ?? incomplete[0].Directory)}{(latest is null ? ", incomplete" : "")}); "
                + "pass --resume to continue that run, or choose another --out.");
        if (options.Resume && latest is null && incomplete.Count > 0)
            throw new ArgumentException($"--resume: '{folder}' holds no complete checkpoint: "
                + string.Join("; ", incomplete.Select(x => $"{Path.GetFileName(x.Directory)}: {x.Problem}")) + ". Move those folders away to start over.");
        if (latest is not null)
            foreach (var (dir, problem) in incomplete.Where(x => string.CompareOrdinal(Path.GetFileName(x.Directory), Path.GetFileName(latest)) > 0))
                log.WriteLine($"  warning: {Path.GetFileName(dir)} is not a complete checkpoint ({problem}); resuming from {Path.GetFileName(latest)}.");
        return latest;
    }

    private static readonly IReadOnlyDictionary<string, string> Flags = new Dictionary<string, string>
    {
        [nameof(RunSettings.PromptsSha256)] = "--prompts", ["Prompts"] = "--prompts", [nameof(RunSettings.GroupSize)] = "--group",
        [nameof(RunSettings.PromptsPerStep)] = "--prompts-per-step", [nameof(RunSettings.LearningRate)] = "--lr",
        [nameof(RunSettings.Temperature)] = "--temperature", [nameof(RunSettings.MaxNewTokens)] = "--max-new-tokens", [nameof(RunSettings.Tlt)] = "--tlt",
    };

    private static string Describe(SettingChange c) => $"{Flags.GetValueOrDefault(c.Name, c.Name)} {c.Saved} → {c.Current}";

    /// <summary>Loads the checkpoint; other settings than the checkpoint's are refused unless --allow-changed-settings.</summary>
    private static IReadOnlyList<SettingChange> Resume(RlTrainer trainer, string checkpoint, HfRlOptions options)
    {
        try { return trainer.LoadCheckpoint(checkpoint, options.AllowChangedSettings); }
        catch (CheckpointSettingsException e)
        {
            throw new ArgumentException($"--resume: {checkpoint} was written with other settings: {string.Join("; ", e.Changes.Select(Describe))}. "
                + "Resume with the same flags, or pass --allow-changed-settings to continue anyway (the changes are recorded in metrics.jsonl).", e);
        }
    }

    private static RewardComposer Rewards(HfRlOptions options)
    {
        var rewards = new List<WeightedReward> { new(new MathAnswerReward()) };
        if (options.FormatPattern is { } pattern) rewards.Add(new WeightedReward(new FormatReward(pattern), options.FormatWeight));
        return new RewardComposer(rewards);
    }

    private static bool IsCorrect(string response, string? answer) =>
        answer is not null && MathAnswerReward.ExtractAnswer(response) is { } found && MathAnswerReward.Equivalent(found, answer);

    // The tokenizer's EOS and the generation EOS ids of config.json (chat models often end turns with a token other than the tokenizer's EOS).
    private static HashSet<int> StopTokens(ITextTokenizer tokenizer, TransformerConfig config)
    {
        var stop = new HashSet<int>(config.EosTokenIds ?? Array.Empty<int>());
        if (tokenizer.EosId is { } eos) stop.Add(eos);
        return stop;
    }

    private static string Line(StepMetrics m, bool tlt) =>
        $"step {m.Step,4}: reward {m.RewardMean:F3}, acc {m.Accuracy:F3}, len p50/max {m.ResponseLengthP50:F0}/{m.ResponseLengthMax}, "
        + $"accept {m.AcceptLength:F2}, {m.StepSeconds:F2}s (rollout {m.RolloutSeconds:F2}, reward {m.RewardSeconds:F2}, "
        + $"update {m.OldLogProbSeconds + m.UpdateSeconds:F2}{(m.DrafterCriticalSeconds is { } d ? $", drafter {d:F2}" : "")}), loss {m.Loss:F4}"
        + (tlt ? $", drafter v{m.DrafterVersion}, {m.DrafterSteps} idle steps" + (m.DrafterLoss is { } l ? $", drafter loss {l:F3}" : "") : "")
        + (m.EvaluationSeconds is { } e ? $", held-out acc {m.ValidationAccuracy:F3} reward {m.ValidationReward:F3}"
            + (m.ValidationPassAtK is { } pk ? $" pass@{m.ValidationK} {pk:F3}" : "") + $" ({e:F2}s, not in the step time)" : "")
        + (m.Ranks is { } n ? $", {n} ranks (comm {m.CommunicationSeconds:F2}s" + (m.RankWaitSeconds is { } w ? $", rank 0 waited {w:F2}s for the others and trained {m.RankWaitDrafterSteps} drafter steps meanwhile" : "") + ")" : "");

    // Lines of steps at or after the start step belong to a run that is being redone (or replaced): drop them.
    private static void KeepMetricsBefore(string path, int step)
    {
        if (!File.Exists(path)) return;
        var kept = File.ReadLines(path).Where(line =>
        {
            try { return JsonSerializer.Deserialize<StepMetrics>(line) is { } m && m.Step < step; }
            catch (JsonException) { return false; }      // a line cut off by a kill
        }).ToList();
        AtomicFile.WriteAllText(path, kept.Count == 0 ? "" : string.Join('\n', kept) + "\n");
    }
}
