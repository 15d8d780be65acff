namespace TltTrainer.Speculative;

/// <summary>Where a serving drafter gets newer weights from (e.g. the drafter publisher of online training).</summary>
public interface IDrafterWeightsSource
{
    /// <summary>Newest available version (0 = none).</summary>
    long LatestVersion { get; }

    /// <summary>Copies the newest weights into <paramref name="serving"/> when newer than <paramref name="servingVersion"/>; returns the version it now holds.</summary>
    long Refresh(EagleDraftModel serving, long servingVersion);
}
