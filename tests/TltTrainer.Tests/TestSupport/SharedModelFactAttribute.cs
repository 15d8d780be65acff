namespace TltTrainer.Tests.TestSupport;

/// <summary>A fact that is reported as skipped (not passed, not failed) when a shared model folder is absent.</summary>
public sealed class SharedModelFactAttribute : FactAttribute
{
    /// <param name="modelName">Folder name under shared/models, e.g. "tinystories-656k".</param>
    public SharedModelFactAttribute(string modelName)
    {
        if (SharedModels.TryGetPath(modelName) is null)
        {
            Skip = $"Shared model '{modelName}' not found: looked for shared/models/{modelName} above the repository root "
                + "(set TLT_SHARED_MODELS to point elsewhere).";
        }
    }
}
