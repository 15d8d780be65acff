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
        return this;
    }
}
