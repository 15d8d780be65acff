namespace TltTrainer.Drafting;

/// <summary>Hyper-parameters of drafter training (the TLT recipe by default).</summary>
public sealed record DrafterTrainingOptions
{
    /// <summary>Peak learning rate. Default 1e-3 (small drafters; TLT used 5e-5 for 7B-scale warm-up).</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>AdamW weight decay. Default 0.01.</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>AdamW β1. Default 0.9.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>AdamW β2. Default 0.95.</summary>
    public double Beta2 { get; init; } = 0.95;

    /// <summary>Gradient-norm clip. Default 1.0.</summary>
    public double ClipNorm { get; init; } = 1.0;

    /// <summary>Weight of the SmoothL1 loss on the predicted next hidden state. Default 1.</summary>
    public double HiddenLossWeight { get; init; } = 1.0;

    /// <summary>Weight of the soft cross-entropy against the target's next-token distribution. Default 0.1.</summary>
    public double TokenLossWeight { get; init; } = 0.1;

    /// <summary>Linear warm-up steps. Default 20.</summary>
    public int WarmupSteps { get; init; } = 20;

    /// <summary>
    /// Steps after the warm-up over which the learning rate falls along a cosine from its peak to
    /// <see cref="MinLearningRateRatio"/> × peak, and stays there; 0 = constant after the warm-up. Default 0.
    /// <see cref="DrafterTrainer.RestartSchedule"/> starts warm-up and decay over (a warm restart) without resetting the optimizer's moments.
    /// </summary>
    public int DecaySteps { get; init; }

    /// <summary>Learning rate at the end of the decay, as a share of the peak. Default 0.1.</summary>
    public double MinLearningRateRatio { get; init; } = 0.1;

    /// <summary>
    /// Chain steps trained per pair: 1 = teacher forcing only; k &gt; 1 also trains steps 2..k on the drafter's own predicted features
    /// (EAGLE-3's training-time test), step s weighted <see cref="UnrollDecay"/>^(s − 1). Costs about k(k + 1)/2 forwards. Default 1.
    /// </summary>
    public int UnrollSteps { get; init; } = 1;

    /// <summary>Weight ratio between successive unrolled steps. Default 0.8 (EAGLE-3).</summary>
    public double UnrollDecay { get; init; } = 0.8;

    /// <summary>Half-width of the uniform noise added to the input features while training (EAGLE-1 used 0.1 ... 0.2 × feature scale); 0 = none. Default 0.</summary>
    public double FeatureNoise { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the field when invalid.</summary>
    public DrafterTrainingOptions Validate()
    {
        if (!(LearningRate > 0)) throw new ArgumentException($"LearningRate = {LearningRate} must be > 0.");
        if (!(WeightDecay >= 0)) throw new ArgumentException($"WeightDecay = {WeightDecay} must be ≥ 0.");
        if (!(Beta1 is >= 0 and < 1)) throw new ArgumentException($"Beta1 = {Beta1} must lie in [0, 1).");
        if (!(Beta2 is >= 0 and < 1)) throw new ArgumentException($"Beta2 = {Beta2} must lie in [0, 1).");
        if (!(ClipNorm > 0)) throw new ArgumentException($"ClipNorm = {ClipNorm} must be > 0.");
        if (!(HiddenLossWeight >= 0) || !(TokenLossWeight >= 0) || HiddenLossWeight + TokenLossWeight == 0)
            throw new ArgumentException("HiddenLossWeight and TokenLossWeight must be ≥ 0 and not both 0.");
        if (WarmupSteps < 0) throw new ArgumentException($"WarmupSteps = {WarmupSteps} must be ≥ 0.");
        if (UnrollSteps < 1) throw new ArgumentException($"UnrollSteps = {UnrollSteps} must be ≥ 1.");
        if (!(UnrollDecay is > 0 and <= 1)) throw new ArgumentException($"UnrollDecay = {UnrollDecay} must lie in (0, 1].");
        if (!(FeatureNoise >= 0)) throw new ArgumentException($"FeatureNoise = {FeatureNoise} must be ≥ 0.");
        if (DecaySteps < 0) throw new ArgumentException($"DecaySteps = {DecaySteps} must be ≥ 0.");
        if (!(MinLearningRateRatio is >= 0 and <= 1)) throw new ArgumentException($"MinLearningRateRatio = {MinLearningRateRatio} must lie in [0, 1].");
        return this;
    }
}
