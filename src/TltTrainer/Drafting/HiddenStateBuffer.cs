// Online training data for the drafter, captured from the target forwards the rollout does anyway
// (it is the engine's IHiddenStateSink: no extra target forward). While a request runs, only its last
// W + 1 hidden states are kept (W response pairs, the end of long responses, as TLT trains on). When
// the rollout ends, Commit turns each request into one window tagged with the RL step and appends it
// to a FIFO bounded in bytes (oldest windows are evicted first). Sampling prefers the newest steps.
// Thread-safe: the rollout thread writes while an idle-compute trainer reads.
using TltTrainer.Rollout;
using static TorchSharp.torch;

namespace TltTrainer.Drafting;

/// <summary>Settings of a <see cref="HiddenStateBuffer"/>.</summary>
/// <param name="WindowTokens">Response pairs kept per request (its end). Default 512.</param>
/// <param name="MaxBytes">Byte budget of stored hidden states. Default 256 MiB.</param>
/// <param name="RecentSteps">Sample from windows of the last this-many RL steps. Default 4 (2 dropped a third of the moved policy's data
/// by the third step after a shift: accepted length 3.71 against 3.75 keeping all three, SpecBench --adaptation).</param>
public sealed record HiddenStateBufferOptions(int WindowTokens = 512, long MaxBytes = 256L << 20, int RecentSteps = 4)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the field when invalid.</summary>
    public HiddenStateBufferOptions Validate()
    {
        if (WindowTokens < 2) throw new ArgumentException($"WindowTokens = {WindowTokens} must be ≥ 2.");
        if (MaxBytes < 1) throw new ArgumentException($"MaxBytes = {MaxBytes} must be ≥ 1.");
        if (RecentSteps < 1) throw new ArgumentException($"RecentSteps = {RecentSteps} must be ≥ 1.");
        return this;
    }
}

/// <summary>A bounded FIFO of (tokens, target hidden states) windows for online drafter training.</summary>
public sealed class HiddenStateBuffer : IHiddenStateSink, IDisposable
{
    private readonly HiddenStateBufferOptions _options;
    private readonly object _gate = new();
    private readonly Dictionary<long, PendingSequence> _pending = new();
    private readonly LinkedList<DrafterExample> _windows = new();
    private long _bytes;

    /// <summary>Creates an empty buffer.</summary>
    public HiddenStateBuffer(HiddenStateBufferOptions? options = null) => _options = (options ?? new HiddenStateBufferOptions()).Validate();

    /// <summary>Bytes of hidden states held in committed windows.</summary>
    public long Bytes { get { lock (_gate) return _bytes; } }

    /// <summary>Committed windows.</summary>
    public int Count { get { lock (_gate) return _windows.Count; } }

    /// <summary>The RL step whose rollout is being captured (tag of the next commit).</summary>
    public long CurrentStep { get; set; }

    /// <inheritdoc />
    public void OnHiddenStates(long requestId, int start, Tensor hidden, IReadOnlyList<int> tokens)
    {
        // The engine calls this inside its dispose scope and its tensor is valid only during the call: copy and detach.
        Tensor copy;
        using (var scope = NewDisposeScope()) copy = hidden.detach().clone().DetachFromDisposeScope();   // keeps the temporary alive (see DrafterPublisher)
        lock (_gate)
        {
            if (!_pending.TryGetValue(requestId, out var seq)) _pending[requestId] = seq = new PendingSequence(start);
            seq.Add(copy, tokens, _options.WindowTokens + 1);
        }
    }

    /// <inheritdoc />
    /// <remarks>A finished request becomes a window at once, so its data can train the drafter during the same rollout's tail.</remarks>
    public void OnSequenceFinished(long requestId)
    {
        lock (_gate)
        {
            if (_pending.Remove(requestId, out var seq)) Add(seq);
        }
    }

    /// <summary>Turns every still-pending request into a window tagged with <see cref="CurrentStep"/> (and evicts beyond the byte budget).</summary>
    /// <returns>Windows added.</returns>
    public int Commit()
    {
        lock (_gate)
        {
            int added = _pending.Values.Count(Add);
            _pending.Clear();
            return added;
        }
    }

    /// <summary>Windows committed per RL step (for metrics and tests).</summary>
    public IReadOnlyDictionary<long, int> WindowsByStep()
    {
        lock (_gate) return _windows.GroupBy(w => w.Step).ToDictionary(g => g.Key, g => g.Count());
    }

    private bool Add(PendingSequence seq)
    {
        var example = seq.ToExample(CurrentStep);
        seq.Dispose();
        if (example is null) return false;
        long size = example.Hidden.NumberOfElements * example.Hidden.ElementSize;
        if (size > _options.MaxBytes) { example.Dispose(); return false; }
        _windows.AddLast(example);
        _bytes += size;
        while (_bytes > _options.MaxBytes && _windows.First is { } oldest)
        {
            _bytes -= oldest.Value.Hidden.NumberOfElements * oldest.Value.Hidden.ElementSize;
            oldest.Value.Dispose();
            _windows.RemoveFirst();
        }
        return true;
    }

    /// <summary>
    /// Runs <paramref name="use"/> on up to <paramref name="count"/> windows drawn (without replacement) from the last
    /// <see cref="HiddenStateBufferOptions.RecentSteps"/> steps present. The windows stay owned by the buffer and must not
    /// be kept beyond the call (the lock is held so that eviction cannot free them meanwhile).
    /// </summary>
    public T UseSample<T>(int count, Random random, Func<IReadOnlyList<DrafterExample>, T> use)
    {
        lock (_gate)
        {
            if (_windows.Count == 0) return use(Array.Empty<DrafterExample>());
            long newest = _windows.Max(w => w.Step);
            var recent = _windows.Where(w => w.Step > newest - _options.RecentSteps).ToList();
            var picked = recent.OrderBy(_ => random.Next()).Take(count).ToList();
            return use(picked);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var w in _windows) w.Dispose();
            _windows.Clear();
            foreach (var p in _pending.Values) p.Dispose();
            _pending.Clear();
            _bytes = 0;
        }
    }

    /// <summary>A running request's last hidden states (positions [Start, Start + Count)) and its tokens.</summary>
    private sealed class PendingSequence(int firstPosition) : IDisposable
    {
        private readonly LinkedList<Tensor> _chunks = new();
        private int _start = firstPosition, _count;
        private IReadOnlyList<int> _tokens = Array.Empty<int>();
        private readonly int _promptEnd = firstPosition;             // first capture is the last prompt position

        public void Add(Tensor chunk, IReadOnlyList<int> tokens, int keep)
        {
            _chunks.AddLast(chunk);
            _count += (int)chunk.shape[0];
            _tokens = tokens;
            while (_chunks.First is { } first && _count - first.Value.shape[0] >= keep)
            {
                _start += (int)first.Value.shape[0];
                _count -= (int)first.Value.shape[0];
                first.Value.Dispose();
                _chunks.RemoveFirst();
            }
        }

        public DrafterExample? ToExample(long step)
        {
            if (_count < 2) return null;
            using var scope = NewDisposeScope();
            var hidden = cat(_chunks.ToList(), 0);
            var tokens = _tokens.Skip(_start).Take(_count).ToArray();   // tokens at the captured positions
            int lossStart = Math.Max(0, _promptEnd - _start);
            if (lossStart > tokens.Length - 2) return null;
            var context = _tokens.Take(_start).ToArray();              // the prompt (and any trimmed response) before the window
            return new DrafterExample(tokens, hidden.DetachFromDisposeScope(), lossStart, step, context);
        }

        public void Dispose()
        {
            foreach (var c in _chunks) c.Dispose();
        }
    }
}
