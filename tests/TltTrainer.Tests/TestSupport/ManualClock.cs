namespace TltTrainer.Tests.TestSupport;

/// <summary>
/// A <see cref="TimeProvider"/> that moves only when told to (thread-safe), for specifications that must not read the wall
/// clock: the idle scheduler's accounting, the bandit's throughput, anything timed through an injected clock. Left alone it
/// stands still, so every interval reads zero.
/// </summary>
public sealed class ManualClock : TimeProvider
{
    private long _ticks;

    /// <inheritdoc />
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <inheritdoc />
    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    /// <summary>Moves the clock forward by <paramref name="by"/>.</summary>
    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}
