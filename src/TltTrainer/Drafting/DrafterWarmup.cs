// Offline warm-up of an EAGLE drafter for any target (what TLT does before RL): sample the target's own
// responses to the given requests, collect (tokens, hidden states) with one target forward each, and
// train a fresh drafter with DrafterTrainer on packed batches of randomly picked generations. LoadOrTrain
// caches the result at a path the caller derives from everything that determines it (target weights,
// requests, recipe); a cache file that fails to load is retrained and replaced. EmbeddedDrafter is this
// recipe on the embedded task; samples use it for HuggingFace checkpoints.
using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Speculative;

namespace TltTrainer.Drafting;

/// <summary>Training recipe of <see cref="DrafterWarmup"/> (the generations come from the requests).</summary>
public sealed record DrafterWarmupOptions
{
    /// <summary>Optimizer steps. Default 400.</summary>
    public int Steps { get; init; } = 400;

    /// <summary>Generations per step (packed). Default 16.</summary>
    public int SequencesPerStep { get; init; } = 16;

    /// <summary>Pairs per packed row. Default 256.</summary>
    public int RowLength { get; init; } = 256;

    /// <summary>Peak learning rate. Default 2e-3.</summary>
    public double LearningRate { get; init; } = 2e-3;

    /// <summary>Linear learning-rate warm-up steps. Default 20.</summary>
    public int WarmupSteps { get; init; } = 20;

    /// <summary>Seed of the drafter's initial weights and of batch picking. Default 5.</summary>
    public ulong Seed { get; init; } = 5;

    /// <summary>Most sequences generated together. Default 64.</summary>
    public int MaxRunningBatch { get; init; } = 64;

    /// <summary>Cosine decay of the learning rate over the steps after the warm-up, to a tenth of the peak; false = constant. Default false.</summary>
    public bool CosineDecay { get; init; }

    /// <summary>Chain steps trained per pair (<see cref="DrafterTrainingOptions.UnrollSteps"/>). Default 1.</summary>
    public int UnrollSteps { get; init; } = 1;

    /// <summary>Uniform noise on the input features while training (<see cref="DrafterTrainingOptions.FeatureNoise"/>). Default 0.</summary>
    public double FeatureNoise { get; init; }

    /// <summary>Weight of the soft cross-entropy to the target's next-token distribution (<see cref="DrafterTrainingOptions.TokenLossWeight"/>). Default 0.1.</summary>
    public double TokenLossWeight { get; init; } = 0.1;

    /// <summary>Weight of the SmoothL1 loss on the next hidden state (<see cref="DrafterTrainingOptions.HiddenLossWeight"/>). Default 1.</summary>
    public double HiddenLossWeight { get; init; } = 1.0;

    /// <summary>Throws <see cref="ArgumentException"/> naming the field when invalid.</summary>
    public DrafterWarmupOptions Validate()
    {
        if (Steps < 0) throw new ArgumentException($"Steps = {Steps} must be ≥ 0.");
        if (SequencesPerStep < 1) throw new ArgumentException($"SequencesPerStep = {SequencesPerStep} must be ≥ 1.");
        if (RowLength < 2) throw new ArgumentException($"RowLength = {RowLength} must be ≥ 2.");
        if (!(LearningRate > 0)) throw new ArgumentException($"LearningRate = {LearningRate} must be > 0.");
        if (WarmupSteps < 0) throw new ArgumentException($"WarmupSteps = {WarmupSteps} must be ≥ 0.");
        if (MaxRunningBatch < 1) throw new ArgumentException($"MaxRunningBatch = {MaxRunningBatch} must be ≥ 1.");
        Training().Validate();
        return this;
    }

    /// <summary>The optimizer settings this recipe trains with.</summary>
    public DrafterTrainingOptions Training() => new()
    {
        LearningRate = LearningRate, WarmupSteps = WarmupSteps, DecaySteps = CosineDecay ? Math.Max(1, Steps - WarmupSteps) : 0,
        UnrollSteps = UnrollSteps, FeatureNoise = FeatureNoise, TokenLossWeight = TokenLossWeight, HiddenLossWeight = HiddenLossWeight,
    };
}

/// <summary>Where offline drafter training stands after a step (for learning curves).</summary>
/// <param name="Step">Steps taken (1-based).</param>
/// <param name="Pairs">Trained (x_{t+1}, h_t) pairs so far, summed over steps.</param>
/// <param name="Result">The step's loss and top-1 agreement.</param>
/// <param name="Model">The drafter being trained (read it, e.g. to measure acceptance; do not keep it).</param>
public sealed record DrafterWarmupStep(int Step, long Pairs, DrafterStepResult Result, EagleDraftModel Model);

/// <summary>Trains (and caches) an <see cref="EagleDraftModel"/> on a target's own generations.</summary>
public static class DrafterWarmup
{
    /// <summary>
    /// The drafter cached at <paramref name="cachePath"/>, or one trained now by <see cref="Train"/> and saved there
    /// (atomically). The path must change whenever the target, the requests or the recipe change.
    /// </summary>
    /// <exception cref="OperationCanceledException">Cancelled; nothing is cached.</exception>
    public static EagleDraftModel LoadOrTrain(CausalLM target, string cachePath, IReadOnlyList<RolloutRequest> requests, DrafterWarmupOptions? options = null,
        IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cachePath);
        if (File.Exists(cachePath))
        {
            try { return EagleDraftModel.Load(cachePath, target.Config); }
            catch (Exception e) when (e is IOException or InvalidDataException) { progress?.Report($"cached drafter unreadable ({e.Message}); retraining"); }
        }
        var model = Train(target, requests, options, progress, cancellationToken);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(cachePath))!);
            model.Save(cachePath);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Generates the target's responses to <paramref name="requests"/> and trains a fresh drafter on them (no cache).</summary>
    /// <exception cref="ArgumentException">The options are invalid, or no request produced a trainable response.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public static EagleDraftModel Train(CausalLM target, IReadOnlyList<RolloutRequest> requests, DrafterWarmupOptions? options = null,
        IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        options = (options ?? new DrafterWarmupOptions()).Validate();
        progress?.Report($"generating {requests.Count} target responses");
        var trajectories = new RolloutEngine(target, new RolloutEngineOptions { MaxRunningBatch = options.MaxRunningBatch })
            .Generate(requests, cancellationToken).Trajectories;
        var examples = DrafterTrainer.CollectExamples(target, trajectories);
        try
        {
            if (examples.Count == 0) throw new ArgumentException($"none of the {requests.Count} requests produced a response to train on.", nameof(requests));
            return TrainOn(target, examples, options, progress, cancellationToken: cancellationToken);
        }
        finally
        {
            foreach (var e in examples) e.Dispose();
        }
    }

    /// <summary>
    /// Trains a fresh drafter on <paramref name="examples"/> (the caller keeps them): each step packs
    /// <see cref="DrafterWarmupOptions.SequencesPerStep"/> randomly picked examples; <paramref name="onStep"/> sees every step.
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid or there are no examples.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public static EagleDraftModel TrainOn(CausalLM target, IReadOnlyList<DrafterExample> examples, DrafterWarmupOptions? options = null,
        IProgress<string>? progress = null, Action<DrafterWarmupStep>? onStep = null, CancellationToken cancellationToken = default)
    {
        options = (options ?? new DrafterWarmupOptions()).Validate();
        if (examples.Count == 0) throw new ArgumentException("no examples to train on.", nameof(examples));
        var model = new EagleDraftModel(target.Config, seed: (long)options.Seed);
        try
        {
            using var trainer = new DrafterTrainer(target, model, options.Training());
            var random = new Random((int)options.Seed);
            long pairs = 0;
            for (int step = 0; step < options.Steps; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var picked = examples.OrderBy(_ => random.Next()).Take(options.SequencesPerStep).ToList();
                using var batch = DrafterBatch.Create(picked, options.RowLength, pack: true, target.Device);
                var result = trainer.TrainStep(batch);
                pairs += result.Pairs;
                if (step % 100 == 0 || step == options.Steps - 1) progress?.Report($"drafter step {step}: loss {result.Loss:F3}, top-1 {result.Top1Accuracy:P0}");
                onStep?.Invoke(new DrafterWarmupStep(step + 1, pairs, result, model));
            }
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
