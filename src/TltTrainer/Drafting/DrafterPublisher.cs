// Versioned, immutable drafter snapshots. The trainer publishes a copy of its weights as a new
// version; readers (rollout engines) lease the newest snapshot, copy it into their own serving model
// between speculation rounds, and release the lease. A snapshot's tensors are never written after
// publication, so a reader can never see half-old, half-new weights; a replaced snapshot is freed
// once its last lease is released.
using TltTrainer.Speculative;
using static TorchSharp.torch;

namespace TltTrainer.Drafting;

/// <summary>An immutable copy of drafter weights with a version number.</summary>
public sealed class DrafterSnapshot
{
    private readonly Dictionary<string, Tensor> _weights;
    private int _leases = 1;                  // the publisher's own reference

    internal DrafterSnapshot(long version, Dictionary<string, Tensor> weights)
    {
        Version = version;
        _weights = weights;
    }

    /// <summary>Monotonic version (1 = first published).</summary>
    public long Version { get; }

    /// <summary>Weights by name. Never modify them.</summary>
    public IReadOnlyDictionary<string, Tensor> Weights => _weights;

    internal bool TryAcquire()
    {
        while (true)
        {
            int n = Volatile.Read(ref _leases);
            if (n == 0) return false;                                    // already freed
            if (Interlocked.CompareExchange(ref _leases, n + 1, n) == n) return true;
        }
    }

    internal void Release()
    {
        if (Interlocked.Decrement(ref _leases) == 0)
            foreach (var t in _weights.Values) t.Dispose();
    }
}

/// <summary>A lease on a snapshot; dispose to release it.</summary>
public readonly struct DrafterLease : IDisposable
{
    internal DrafterLease(DrafterSnapshot? snapshot) => Snapshot = snapshot;

    /// <summary>The leased snapshot, or null when nothing is published yet.</summary>
    public DrafterSnapshot? Snapshot { get; }

    /// <inheritdoc />
    public void Dispose() => Snapshot?.Release();
}

/// <summary>Publishes drafter weights as versioned snapshots; thread-safe.</summary>
public sealed class DrafterPublisher : IDrafterWeightsSource, IDisposable
{
    private DrafterSnapshot? _current;
    private readonly object _gate = new();
    private long _version;

    /// <summary>
    /// Continues version numbering after <paramref name="version"/> (a resumed run: its next snapshot is
    /// <paramref name="version"/> + 1, so versions keep increasing across the resume). Never lowers the version.
    /// </summary>
    public void ContinueFrom(long version)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(version);
        lock (_gate)
            if (version > _version) Volatile.Write(ref _version, version);
    }

    /// <summary>Version of the newest snapshot (0 = none).</summary>
    public long LatestVersion => Volatile.Read(ref _version);

    /// <summary>Copies <paramref name="model"/>'s weights into a new snapshot and makes it the newest.</summary>
    /// <returns>The new version.</returns>
    public long Publish(EagleDraftModel model)
    {
        var weights = new Dictionary<string, Tensor>();
        // The scope keeps each temporary detach() referenced until its clone() has returned: an unreferenced
        // temporary can be finalized (its TensorImpl freed) while the native clone still reads it — a
        // segfault in at::native::clone seen under parallel tests. It also frees the temporaries at once.
        using (var scope = NewDisposeScope())
        using (no_grad())
            foreach (var (name, t) in model.state_dict()) weights[name] = t.detach().clone().DetachFromDisposeScope();
        lock (_gate)
        {
            var snapshot = new DrafterSnapshot(_version + 1, weights);
            var old = _current;
            _current = snapshot;
            Volatile.Write(ref _version, snapshot.Version);
            old?.Release();
            return snapshot.Version;
        }
    }

    /// <summary>Leases the newest snapshot (dispose the lease when done reading).</summary>
    public DrafterLease Acquire()
    {
        while (true)
        {
            var snapshot = Volatile.Read(ref _current);
            if (snapshot is null) return new DrafterLease(null);
            if (snapshot.TryAcquire()) return new DrafterLease(snapshot);
            // It was replaced and freed between the read and the acquire: read again.
        }
    }

    /// <summary>Copies the newest snapshot into <paramref name="serving"/> if it is newer than <paramref name="servingVersion"/>.</summary>
    /// <returns>The version <paramref name="serving"/> now holds.</returns>
    public long Refresh(EagleDraftModel serving, long servingVersion)
    {
        if (LatestVersion <= servingVersion) return servingVersion;
        using var lease = Acquire();
        if (lease.Snapshot is null || lease.Snapshot.Version <= servingVersion) return servingVersion;
        serving.CopyFrom(lease.Snapshot.Weights, $"drafter snapshot v{lease.Snapshot.Version}");
        return lease.Snapshot.Version;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            _current?.Release();
            _current = null;
        }
    }
}
