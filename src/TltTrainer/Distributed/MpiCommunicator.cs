// ICommunicator over MPI_COMM_WORLD through the thin binding (MpiLibrary). MPI is initialised with a
// thread level (default FUNNELED: TorchSharp may run on any thread, but only the initialising thread
// communicates; below SERIALIZED, a call from another thread throws rather than corrupting MPI state).
// Spans larger than int.MaxValue elements are sent in chunks (MPI counts are int). Reductions run in
// place (MPI_IN_PLACE) on the caller's memory, so a CPU tensor's storage is reduced with no copy.
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace TltTrainer.Distributed;

/// <summary>The MPI communicator of the job (MPI_COMM_WORLD), Open MPI or MPICH detected at run time.</summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    private const int MaxChunk = int.MaxValue / 16 * 8;   // elements per MPI call, a multiple of 8

    private readonly MpiLibrary _mpi;
    private readonly bool _ownsInit;
    private readonly MpiThreadLevel _level;
    private readonly int _thread;
    private long _commTicks;
    private bool _disposed;

    private MpiCommunicator(MpiLibrary mpi, bool ownsInit, MpiThreadLevel level)
    {
        _mpi = mpi;
        _ownsInit = ownsInit;
        _level = level;
        _thread = Environment.CurrentManagedThreadId;
        int rank, size;
        mpi.Check(mpi.CommRank(mpi.CommWorld, &rank), "MPI_Comm_rank");
        mpi.Check(mpi.CommSize(mpi.CommWorld, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
        Description = $"{mpi.Version()} ({mpi.Name}, thread level {level})";
    }

    /// <summary>
    /// Loads MPI and initialises it (MPI_Init_thread) unless already initialised. Call once per process,
    /// on the thread that will communicate; MPI cannot be initialised again after <see cref="Dispose"/>.
    /// </summary>
    /// <param name="required">Thread level to request.</param>
    /// <exception cref="DllNotFoundException">No MPI library found.</exception>
    /// <exception cref="MpiException">MPI failed or provides a lower thread level than <paramref name="required"/>.</exception>
    public static MpiCommunicator Initialize(MpiThreadLevel required = MpiThreadLevel.Funneled)
    {
        var mpi = MpiLibrary.Load();
        int initialized = 0, finalized = 0;
        mpi.Check(mpi.Initialized(&initialized), "MPI_Initialized");
        mpi.Check(mpi.Finalized(&finalized), "MPI_Finalized");
        if (finalized != 0) throw new InvalidOperationException("MPI was already finalised in this process; it cannot be initialised again.");
        if (initialized != 0) return new MpiCommunicator(mpi, ownsInit: false, required);
        int provided = 0;
        mpi.Check(mpi.InitThread(null, null, (int)required, &provided), "MPI_Init_thread");
        if (provided < (int)required)
        {
            mpi.FinalizeFn();
            throw new MpiException($"MPI provides thread level {(MpiThreadLevel)provided}, below the required {required}.", 0);
        }
        return new MpiCommunicator(mpi, ownsInit: true, (MpiThreadLevel)provided);
    }

    /// <summary>Which MPI ABI was loaded.</summary>
    internal MpiFlavor Flavor => _mpi.Flavor;

    /// <inheritdoc />
    public int Rank { get; }

    /// <inheritdoc />
    public int Size { get; }

    /// <inheritdoc />
    public string Description { get; }

    /// <inheritdoc />
    public TimeSpan CommunicationTime => Stopwatch.GetElapsedTime(0, _commTicks);

    /// <inheritdoc />
    public void Barrier()
    {
        long start = Enter();
        _mpi.Check(_mpi.BarrierFn(_mpi.CommWorld), "MPI_Barrier");
        Leave(start);
    }

    /// <inheritdoc />
    public void AllReduce<T>(Span<T> values, ReduceOperation operation = ReduceOperation.Sum) where T : unmanaged
    {
        var type = _mpi.Datatype(MpiTypes.RequireReducible<T>());
        var op = _mpi.Op(operation);
        long start = Enter();
        fixed (T* p = values)
            for (int offset = 0; offset < values.Length; offset += MaxChunk)
            {
                int count = Math.Min(MaxChunk, values.Length - offset);
                _mpi.Check(_mpi.Allreduce((void*)_mpi.InPlace, p + offset, count, type, op, _mpi.CommWorld), "MPI_Allreduce");
            }
        Leave(start);
    }

    /// <inheritdoc />
    public void Broadcast<T>(Span<T> values, int root) where T : unmanaged
    {
        if (root < 0 || root >= Size) throw new ArgumentOutOfRangeException(nameof(root), root, $"must lie in [0, {Size}).");
        var bytes = MemoryMarshal.AsBytes(values);
        long start = Enter();
        fixed (byte* p = bytes)
            for (int offset = 0; offset < bytes.Length; offset += MaxChunk)
            {
                int count = Math.Min(MaxChunk, bytes.Length - offset);
                _mpi.Check(_mpi.Bcast(p + offset, count, _mpi.Byte, root, _mpi.CommWorld), "MPI_Bcast");
            }
        Leave(start);
    }

    /// <inheritdoc />
    public void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged
    {
        if (receive.Length != (long)send.Length * Size)
            throw new ArgumentException($"receive has {receive.Length} elements; it needs Size × send = {Size} × {send.Length}.", nameof(receive));
        var sendBytes = MemoryMarshal.AsBytes(send);
        var receiveBytes = MemoryMarshal.AsBytes(receive);
        if (receiveBytes.Length > int.MaxValue) throw new NotSupportedException($"all-gather of {receiveBytes.Length} bytes: more than int.MaxValue.");
        long start = Enter();
        fixed (byte* s = sendBytes)
        fixed (byte* r = receiveBytes)
            _mpi.Check(_mpi.Allgather(s, sendBytes.Length, _mpi.Byte, r, sendBytes.Length, _mpi.Byte, _mpi.CommWorld), "MPI_Allgather");
        Leave(start);
    }

    /// <inheritdoc />
    public IPendingBarrier StartBarrier()
    {
        long start = Enter();
        var pending = new MpiPendingBarrier(this);
        fixed (nint* request = &pending.Request)
            _mpi.Check(_mpi.Ibarrier(_mpi.CommWorld, request), "MPI_Ibarrier");
        Leave(start);
        return pending;
    }

    /// <inheritdoc />
    public void Abort(int errorCode)
    {
        _mpi.AbortFn(_mpi.CommWorld, errorCode);
        Environment.Exit(errorCode);
    }

    /// <summary>Finalises MPI if this communicator initialised it (every rank must dispose, after its last collective).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_ownsInit) return;
        int finalized = 0;
        _mpi.Finalized(&finalized);
        if (finalized == 0) _mpi.FinalizeFn();
    }

    private long Enter()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_level < MpiThreadLevel.Serialized && Environment.CurrentManagedThreadId != _thread)
            throw new InvalidOperationException($"MPI was initialised with thread level {_level}: only the initialising thread may communicate.");
        return Stopwatch.GetTimestamp();
    }

    private void Leave(long start) => _commTicks += Stopwatch.GetTimestamp() - start;

    /// <summary>An MPI_Ibarrier request; polling and waiting count as communication time.</summary>
    private sealed class MpiPendingBarrier : IPendingBarrier
    {
        private readonly MpiCommunicator _owner;
        private bool _complete;
        internal nint Request;   // MPI writes the request handle here

        public MpiPendingBarrier(MpiCommunicator owner) => _owner = owner;

        public bool Poll()
        {
            if (_complete) return true;
            var mpi = _owner._mpi;
            long start = _owner.Enter();
            int flag = 0;
            fixed (nint* request = &Request)
                mpi.Check(mpi.Test(request, &flag, mpi.StatusIgnore), "MPI_Test");
            _owner.Leave(start);
            return _complete = flag != 0;
        }

        public void Dispose()
        {
            if (_complete || _owner._disposed) return;
            var mpi = _owner._mpi;
            long start = _owner.Enter();
            fixed (nint* request = &Request)
                mpi.Check(mpi.Wait(request, mpi.StatusIgnore), "MPI_Wait");
            _owner.Leave(start);
            _complete = true;
        }
    }
}
