namespace TltTrainer.Tests.TestSupport;

/// <summary>
/// Finds the real checkpoints in the shared models folder (data that is never copied into the repository).
/// The folder is <c>../shared/models</c> next to the repository root; for a git worktree nested deeper
/// (e.g. /work/wt/x) the nearest ancestor with <c>shared/models</c> is used. TLT_SHARED_MODELS overrides both.
/// </summary>
public static class SharedModels
{
    private static readonly Lazy<string?> s_repositoryRoot = new(FindRepositoryRoot);

    /// <summary>The folder holding TltTrainer.sln, or null when the tests run outside a checkout.</summary>
    public static string? RepositoryRoot => s_repositoryRoot.Value;

    /// <summary>The folder of one shared model, or null when it is absent (tests then skip).</summary>
    public static string? TryGetPath(string modelName)
    {
        if (Environment.GetEnvironmentVariable("TLT_SHARED_MODELS") is { Length: > 0 } overridden)
        {
            string candidate = Path.Combine(overridden, modelName);
            return Directory.Exists(candidate) ? candidate : null;
        }

        for (var dir = RepositoryRoot is null ? null : Directory.GetParent(RepositoryRoot); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared", "models", modelName);
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Like <see cref="TryGetPath"/> for tests already gated by <see cref="SharedModelFactAttribute"/>.</summary>
    public static string GetPath(string modelName) =>
        TryGetPath(modelName) ?? throw new InvalidOperationException($"Shared model '{modelName}' is absent; gate the test with [SharedModelFact].");

    private static string? FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TltTrainer.sln")))
            {
                return dir.FullName;
            }
        }

        return null;
    }
}
