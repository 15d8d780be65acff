namespace TltTrainer.Tasks;

/// <summary>What <see cref="EmbeddedTarget.LoadOrTrain"/> is doing.</summary>
public enum EmbeddedTargetPhase
{
    /// <summary>Reading cached weights.</summary>
    Loading,
    /// <summary>One training step finished.</summary>
    Training,
    /// <summary>Writing the trained weights to the cache.</summary>
    Saving,
    /// <summary>The model is ready.</summary>
    Done,
}

/// <summary>A progress report of <see cref="EmbeddedTarget.LoadOrTrain"/>.</summary>
/// <param name="Phase">What is happening.</param>
/// <param name="Step">Training steps done (0 outside training).</param>
/// <param name="Steps">Training steps in the recipe.</param>
/// <param name="Loss">Mean response-token cross-entropy of the last step (NaN outside training).</param>
/// <param name="LearningRate">Learning rate of the last step (0 outside training).</param>
/// <param name="TermLimit">Most terms of a training chain at the last step (curriculum; 0 outside training).</param>
/// <param name="Elapsed">Time since training (or loading) started.</param>
public sealed record EmbeddedTargetProgress(EmbeddedTargetPhase Phase, int Step, int Steps, double Loss, double LearningRate,
    int TermLimit, TimeSpan Elapsed);
