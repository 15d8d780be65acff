// The training recipe of the embedded target. Every field that changes the trained weights is part of
// the cache key (EmbeddedTarget.CacheKey); where the cache lives and how many threads train are not.
// Defaults: 1600 steps of 2 x 256 packed tokens of worked solutions with guesses, slips and retries (~0.8 M tokens, about
// 5 minutes on two quiet CPU cores). The 16-layer default shape trained 1000 steps reached loss 0.26 and solved 12% of
// 7-12-term chains greedily (the 8-layer one: 0.13 and 69%).
// The model learns to look up the k-th prompt term abruptly, around steps 600-800; fewer steps, a larger
// learning rate, or 360 larger steps, left short-chain accuracy at 20-45% in trials.
using TltTrainer.Models;

namespace TltTrainer.Tasks;

/// <summary>Recipe for supervised training of the embedded target on worked <see cref="ChainArithmeticTask"/> solutions.</summary>
public sealed record EmbeddedTargetOptions
{
    /// <summary>Model shape. Default <see cref="TransformerPresets.EmbeddedDefault"/>.</summary>
    public TransformerConfig Config { get; init; } = TransformerPresets.EmbeddedDefault;

    /// <summary>Seed of the initial weights and the training data. Default 1.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Optimizer steps. Default 1600.</summary>
    public int Steps { get; init; } = 1600;

    /// <summary>Packed rows per batch. Default 2.</summary>
    public int RowsPerBatch { get; init; } = 2;

    /// <summary>Tokens per packed row (examples are packed whole, with per-example masks and positions). Default 256.</summary>
    public int RowLength { get; init; } = 256;

    /// <summary>Peak AdamW learning rate. Default 1e-3 (3e-3 and 2e-3 trained markedly worse).</summary>
    public double PeakLearningRate { get; init; } = 1e-3;

    /// <summary>Final learning rate of the cosine decay, as a fraction of the peak. Default 0.1.</summary>
    public double FinalLearningRateFraction { get; init; } = 0.1;

    /// <summary>Linear warm-up steps. Default 50.</summary>
    public int WarmupSteps { get; init; } = 50;

    /// <summary>AdamW weight decay on matrices (not on norms). Default 0.01.</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>Global gradient-norm clip. Default 1.0.</summary>
    public double GradientClip { get; init; } = 1.0;

    /// <summary>Most terms of a training chain at the start of the curriculum. Default 4.</summary>
    public int CurriculumStartTerms { get; init; } = 4;

    /// <summary>Most terms of a training chain once the curriculum has ramped up. Default 16.</summary>
    public int CurriculumEndTerms { get; init; } = 16;

    /// <summary>Fraction of the steps over which the term limit ramps linearly from start to end. Default 0.6.</summary>
    public double CurriculumRampFraction { get; init; } = 0.6;

    /// <summary>Exponent β of the training term law P(n) ∝ n^-β over [2, current limit]; flatter than the task's. Default 1.0.</summary>
    public double TrainingTailExponent { get; init; } = 1.0;

    /// <summary>
    /// Guesses, slips and retries in the worked solutions (see <see cref="WorkedSolutionNoise"/>). Default: a guess instead
    /// of a worked chain with probability 0.4, a partial sum one off with probability 0.05, a retry pass with probability
    /// 0.25 (at most 2). At temperature 1 the trained target then guesses often (RL learns to stop), solves short chains
    /// mostly and long ones rarely, and the responses of one prompt differ in length (a 4-token guess, one pass, three
    /// passes): the long tail is a few sequences, not a whole group.
    /// </summary>
    public WorkedSolutionNoise Noise { get; init; } = new(0.05, 0.25, 2, GuessProbability: 0.4);

    /// <summary>
    /// Intra-op threads of the training thread (restored afterwards). Default 2. Not part of the cache key.
    /// On two cores shared with other busy processes, 2 threads ran 10x slower per step than when idle (OpenMP
    /// workers waiting on each other); 1 thread degrades gracefully. 1 and 2 threads gave the same losses (4 decimals).
    /// </summary>
    public int Threads { get; init; } = 2;

    /// <summary>Cache folder; null = <see cref="EmbeddedTarget.DefaultCacheDirectory"/>. Not part of the cache key.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Checks every field and returns this instance.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A field is out of range; the message names it and its value.</exception>
    public EmbeddedTargetOptions Validate()
    {
        static void Require(bool ok, string field, object value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(field, value, $"{field} = {value} is invalid: {rule}.");
        }
        Config.Validate(nameof(EmbeddedTargetOptions));
        Require(Config.VocabSize >= ChainArithmeticTokenizer.Instance.VocabularySize, "Config.VocabSize", Config.VocabSize,
            $"must hold the task's {ChainArithmeticTokenizer.Instance.VocabularySize} ids");
        Require(Steps > 0, nameof(Steps), Steps, "must be positive");
        Require(RowsPerBatch > 0, nameof(RowsPerBatch), RowsPerBatch, "must be positive");
        Require(RowLength > 0 && RowLength <= Config.MaxPositions, nameof(RowLength), RowLength, $"must lie in [1, {Config.MaxPositions}]");
        Require(PeakLearningRate > 0 && double.IsFinite(PeakLearningRate), nameof(PeakLearningRate), PeakLearningRate, "must be positive");
        Require(FinalLearningRateFraction is >= 0 and <= 1, nameof(FinalLearningRateFraction), FinalLearningRateFraction, "must lie in [0, 1]");
        Require(WarmupSteps >= 0 && WarmupSteps < Steps, nameof(WarmupSteps), WarmupSteps, $"must lie in [0, Steps = {Steps})");
        Require(WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "must be non-negative");
        Require(GradientClip > 0, nameof(GradientClip), GradientClip, "must be positive");
        Require(CurriculumStartTerms >= 2, nameof(CurriculumStartTerms), CurriculumStartTerms, "must be at least 2");
        Require(CurriculumEndTerms >= CurriculumStartTerms && CurriculumEndTerms <= ChainArithmeticOptions.TermLimit,
            nameof(CurriculumEndTerms), CurriculumEndTerms, $"must lie in [CurriculumStartTerms, {ChainArithmeticOptions.TermLimit}]");
        Require(CurriculumRampFraction is >= 0 and <= 1, nameof(CurriculumRampFraction), CurriculumRampFraction, "must lie in [0, 1]");
        Require(TrainingTailExponent is >= 0 and <= 10, nameof(TrainingTailExponent), TrainingTailExponent, "must lie in [0, 10]");
        Require(Threads > 0, nameof(Threads), Threads, "must be positive");
        ArgumentNullException.ThrowIfNull(Noise);
        Noise.Validate();
        int longest = PackedBatchBuilder.LongestSequence(CurriculumEndTerms, Noise);
        Require(longest <= RowLength, nameof(RowLength), RowLength, $"must hold the longest training sequence ({longest} tokens for {CurriculumEndTerms} terms)");
        return this;
    }
}
