using TltTrainer.Rollout;
using TltTrainer.Sampling;

namespace TltTrainer.Rl;

/// <summary>What to do when a loss or gradient is NaN/Inf.</summary>
public enum NonFiniteLossPolicy
{
    /// <summary>Skip that optimizer step (no weight change) and count it in the metrics.</summary>
    SkipStep,

    /// <summary>Stop the run with an error naming the RL step.</summary>
    Stop,
}

/// <summary>Learning-rate schedule after warm-up.</summary>
public enum LearningRateSchedule
{
    /// <summary>Constant.</summary>
    Constant,

    /// <summary>Cosine decay to <see cref="RlTrainerOptions.MinLearningRateFraction"/> over <see cref="RlTrainerOptions.TotalSteps"/> optimizer steps.</summary>
    Cosine,
}

/// <summary>Settings of <see cref="RlTrainer"/>; validated by <see cref="Validate"/>.</summary>
public sealed record RlTrainerOptions
{
    /// <summary>Prompts per RL step. Default 8.</summary>
    public int PromptsPerStep { get; init; } = 8;

    /// <summary>Responses per prompt (G). Default 4.</summary>
    public int GroupSize { get; init; } = 4;

    /// <summary>Sampling of responses (the seed is derived per request from <see cref="Seed"/>, the step and the request).</summary>
    public SamplingOptions Sampling { get; init; } = new() { Temperature = 1.0, MaxNewTokens = 256 };

    /// <summary>Passes over each rollout's data. Default 1.</summary>
    public int PpoEpochs { get; init; } = 1;

    /// <summary>Optimizer steps per epoch (the rollout is split into this many mini-batches). Default 1.</summary>
    public int MiniBatchesPerEpoch { get; init; } = 1;

    /// <summary>Sequences per forward/backward (gradient accumulation within a mini-batch). Default 16.</summary>
    public int MicroBatchSize { get; init; } = 16;

    /// <summary>
    /// Padded tokens (sequences × longest sequence) per forward/backward; micro-batches are cut from
    /// length-sorted sequences under this budget and <see cref="MicroBatchSize"/>. 0 = no budget. Default 8192.
    /// </summary>
    public int MicroBatchTokens { get; init; } = 8192;

    /// <summary>Peak learning rate, in (0, 1]. Default 1e-5.</summary>
    public double LearningRate { get; init; } = 1e-5;

    /// <summary>Linear warm-up optimizer steps. Default 0.</summary>
    public int WarmupSteps { get; init; }

    /// <summary>Schedule after warm-up. Default constant.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;

    /// <summary>Optimizer steps of the whole run (for the cosine schedule). Default 1000.</summary>
    public int TotalSteps { get; init; } = 1000;

    /// <summary>Cosine floor as a fraction of the peak. Default 0.1.</summary>
    public double MinLearningRateFraction { get; init; } = 0.1;

    /// <summary>AdamW weight decay. Default 0.</summary>
    public double WeightDecay { get; init; }

    /// <summary>AdamW β1. Default 0.9.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>AdamW β2. Default 0.999.</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>Gradient-norm clip. Default 1.0.</summary>
    public double ClipGradNorm { get; init; } = 1.0;

    /// <summary>Advantage estimator. Default GRPO.</summary>
    public IAdvantageEstimator Advantage { get; init; } = new GrpoAdvantage();

    /// <summary>Policy objective. Default PPO-clip (0.2, 0.2).</summary>
    public IPolicyObjective Objective { get; init; } = new PpoClipObjective();

    /// <summary>Loss aggregation. Default token mean.</summary>
    public LossAggregation Aggregation { get; init; } = LossAggregation.TokenMean;

    /// <summary>C of <see cref="LossAggregation.SequenceMeanOfTokenSum"/>; default the max new tokens.</summary>
    public double? ConstantNormalizer { get; init; }

    /// <summary>Weight of the KL-to-reference loss term; 0 disables (no reference forward). Default 0.</summary>
    public double KlCoefficient { get; init; }

    /// <summary>KL estimator. Default k3.</summary>
    public KlEstimator KlEstimator { get; init; } = KlEstimator.K3;

    /// <summary>
    /// Leave sequences whose advantage is exactly 0 (every group whose rewards are all equal, under GRPO) out of the update's
    /// forward and backward, when that cannot change the step: the objective vanishes at zero advantage
    /// (<see cref="IPolicyObjective.VanishesAtZeroAdvantage"/>) and there is no KL term. The loss denominators still count
    /// them, so the gradient is the one the whole batch gives. Default true; <c>update/entropy</c>, <c>update/clip_fraction</c>
    /// and <c>rollout/logprob_gap_max</c> then cover the sequences the update scored.
    /// </summary>
    public bool SkipZeroAdvantageSequences { get; init; } = true;

    /// <summary>Drop groups whose rewards are all equal (no signal) and refill from new prompts. Default false.</summary>
    public bool DynamicSampling { get; init; }

    /// <summary>Extra rollouts to refill dropped groups. Default 2.</summary>
    public int MaxRefillRounds { get; init; } = 2;

    /// <summary>On a NaN/Inf loss or gradient. Default skip the optimizer step.</summary>
    public NonFiniteLossPolicy NonFinite { get; init; } = NonFiniteLossPolicy.SkipStep;

    /// <summary>Prompt template. Default the prompt as is.</summary>
    public PromptTemplate Template { get; init; } = PromptTemplate.Identity;

    /// <summary>Prompts longer than the context minus <see cref="SamplingOptions.MaxNewTokens"/>. Default reject.</summary>
    public OverlongPromptPolicy OverlongPrompts { get; init; } = OverlongPromptPolicy.Reject;

    /// <summary>Seed of everything random in the run. Default 0.</summary>
    public ulong Seed { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the field when invalid.</summary>
    public RlTrainerOptions Validate()
    {
        void Require(bool ok, string field, object value, string rule)
        {
            if (!ok) throw new ArgumentException($"{field} = {value} is invalid: {rule}.");
        }
        Require(PromptsPerStep >= 1, nameof(PromptsPerStep), PromptsPerStep, "must be ≥ 1");
        Require(GroupSize >= 1, nameof(GroupSize), GroupSize, "must be ≥ 1");
        Require(PpoEpochs >= 1, nameof(PpoEpochs), PpoEpochs, "must be ≥ 1");
        Require(MiniBatchesPerEpoch >= 1, nameof(MiniBatchesPerEpoch), MiniBatchesPerEpoch, "must be ≥ 1");
        Require(MicroBatchSize >= 1, nameof(MicroBatchSize), MicroBatchSize, "must be ≥ 1");
        Require(MicroBatchTokens >= 0, nameof(MicroBatchTokens), MicroBatchTokens, "must be ≥ 0 (0 = no budget)");
        Require(LearningRate > 0 && LearningRate <= 1, nameof(LearningRate), LearningRate, "must lie in (0, 1] (RL fine-tuning uses about 1e-7 to 1e-4)");
        Require(WarmupSteps >= 0, nameof(WarmupSteps), WarmupSteps, "must be ≥ 0");
        Require(TotalSteps >= 1, nameof(TotalSteps), TotalSteps, "must be ≥ 1");
        Require(MinLearningRateFraction is >= 0 and <= 1, nameof(MinLearningRateFraction), MinLearningRateFraction, "must lie in [0, 1]");
        Require(WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "must be ≥ 0");
        Require(ClipGradNorm > 0, nameof(ClipGradNorm), ClipGradNorm, "must be > 0");
        Require(KlCoefficient >= 0, nameof(KlCoefficient), KlCoefficient, "must be ≥ 0");
        Require(MaxRefillRounds >= 0, nameof(MaxRefillRounds), MaxRefillRounds, "must be ≥ 0");
        Require(ConstantNormalizer is null or > 0, nameof(ConstantNormalizer), ConstantNormalizer ?? 0, "must be > 0");
        Sampling.Validate();
        Require(Sampling.Temperature > 0, "Sampling.Temperature", Sampling.Temperature, "RL samples: must be > 0");
        return this;
    }
}
