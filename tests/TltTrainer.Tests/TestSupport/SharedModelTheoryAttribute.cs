namespace TltTrainer.Tests.TestSupport;

/// <summary>A theory that is reported as skipped when a shared model folder is absent.</summary>
public sealed class SharedModelTheoryAttribute : TheoryAttribute
{
    /// <param name="modelName">Folder name under shared/models, e.g. "tinystories-656k".</param>
    public SharedModelTheoryAttribute(string modelName)
    {
        if (SharedModels.TryGetPath(modelName) is null)
        {
            Skip = $"Shared model '{modelName}' not found under shared/models above the repository root.";
        }
    }
}
