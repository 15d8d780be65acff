namespace TltTrainer.Rollout;

/// <summary>Something that turns rollout requests into trajectories: one engine, or several workers.</summary>
public interface IRolloutGenerator
{
    /// <summary>KV-cache capacity per sequence (prompt + response).</summary>
    int SequenceCapacity { get; }

    /// <summary>Generates a response for every request; returns them in request order.</summary>
    RolloutResult Generate(IReadOnlyList<RolloutRequest> requests, CancellationToken cancellationToken = default, IProgress<RolloutProgress>? progress = null);
}
