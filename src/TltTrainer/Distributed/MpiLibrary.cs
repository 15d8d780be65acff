// The thin MPI binding: load the MPI shared library at run time, resolve the few MPI_* functions the
// trainer needs as unmanaged function pointers, and carry MPI handles as nint. Two ABIs exist:
//   Open MPI (libmpi.so.40): MPI_COMM_WORLD, datatypes and ops are addresses of exported globals
//     (ompi_mpi_comm_world, ompi_mpi_float, ompi_mpi_op_sum, ...); MPI_IN_PLACE is (void*)1.
//   MPICH and its ABI family (libmpich.so.12 / libmpi.so.12): handles are int constants
//     (MPI_COMM_WORLD 0x44000000, MPI_FLOAT 0x4c00040a, MPI_SUM 0x58000003, ...); MPI_IN_PLACE is (void*)-1.
// A request (MPI_Ibarrier) is a pointer in Open MPI and an int in MPICH: it lives in an nint slot that
// MPI writes through a pointer (MPICH fills the low 4 bytes of a zeroed slot, which reads back right on
// little-endian machines). MPICH's int handles are passed in the nint slots of the same function-pointer signatures: on the
// x86-64 and AArch64 C calling conventions an int argument occupies a register whose low 32 bits the
// callee reads, so this is exact. The library is opened RTLD_GLOBAL because Open MPI's plugins (mca_*.so)
// resolve libmpi's symbols from the global scope. No status objects are used, so their layouts (which
// differ) never matter. NuGet's MPI.NET is not used: it is a Windows build bound to msmpi.dll.
using System.Runtime.InteropServices;
using System.Text;

namespace TltTrainer.Distributed;

/// <summary>The two MPI ABIs.</summary>
internal enum MpiFlavor
{
    OpenMpi,
    Mpich,
}

internal sealed unsafe partial class MpiLibrary
{
    private const int RtldNow = 0x2, RtldGlobal = 0x100;

    private static readonly string[] OpenMpiNames = ["libmpi.so.40", "libmpi.so"];
    private static readonly string[] MpichNames = ["libmpich.so.12", "libmpi.so.12", "libmpich.so"];

    public readonly delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
    public readonly delegate* unmanaged<int*, int> Initialized;
    public readonly delegate* unmanaged<int*, int> Finalized;
    public readonly delegate* unmanaged<int> FinalizeFn;
    public readonly delegate* unmanaged<nint, int*, int> CommRank;
    public readonly delegate* unmanaged<nint, int*, int> CommSize;
    public readonly delegate* unmanaged<nint, int> BarrierFn;
    public readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce;
    public readonly delegate* unmanaged<void*, int, nint, int, nint, int> Bcast;
    public readonly delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather;
    public readonly delegate* unmanaged<nint, int, int> AbortFn;
    public readonly delegate* unmanaged<nint, nint*, int> Ibarrier;
    public readonly delegate* unmanaged<nint*, int*, nint, int> Test;
    public readonly delegate* unmanaged<nint*, nint, int> Wait;
    private readonly delegate* unmanaged<int, byte*, int*, int> _errorString;
    private readonly delegate* unmanaged<byte*, int*, int> _libraryVersion;

    private MpiLibrary(nint handle, string name)
    {
        Name = name;
        nint Export(string symbol) => NativeLibrary.TryGetExport(handle, symbol, out var address)
            ? address
            : throw new EntryPointNotFoundException($"{name} has no export {symbol}: not an MPI-3 library.");
        Flavor = NativeLibrary.TryGetExport(handle, "ompi_mpi_comm_world", out _) ? MpiFlavor.OpenMpi : MpiFlavor.Mpich;
        InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Export("MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)Export("MPI_Finalized");
        FinalizeFn = (delegate* unmanaged<int>)Export("MPI_Finalize");
        CommRank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size");
        BarrierFn = (delegate* unmanaged<nint, int>)Export("MPI_Barrier");
        Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Export("MPI_Allreduce");
        Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Export("MPI_Bcast");
        Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Export("MPI_Allgather");
        AbortFn = (delegate* unmanaged<nint, int, int>)Export("MPI_Abort");
        Ibarrier = (delegate* unmanaged<nint, nint*, int>)Export("MPI_Ibarrier");
        Test = (delegate* unmanaged<nint*, int*, nint, int>)Export("MPI_Test");
        Wait = (delegate* unmanaged<nint*, nint, int>)Export("MPI_Wait");
        _errorString = (delegate* unmanaged<int, byte*, int*, int>)Export("MPI_Error_string");
        _libraryVersion = (delegate* unmanaged<byte*, int*, int>)Export("MPI_Get_library_version");

        if (Flavor == MpiFlavor.OpenMpi)
        {
            CommWorld = Export("ompi_mpi_comm_world");
            Float32 = Export("ompi_mpi_float");
            Float64 = Export("ompi_mpi_double");
            Int32 = Export("ompi_mpi_int32_t");
            Int64 = Export("ompi_mpi_int64_t");
            Byte = Export("ompi_mpi_byte");
            Sum = Export("ompi_mpi_op_sum");
            Max = Export("ompi_mpi_op_max");
            Min = Export("ompi_mpi_op_min");
            InPlace = 1;
            StatusIgnore = 0;
        }
        else
        {
            CommWorld = 0x44000000;
            Float32 = 0x4c00040a;
            Float64 = 0x4c00080b;
            Int32 = 0x4c000439;
            Int64 = 0x4c00083a;
            Byte = 0x4c00010d;
            Max = 0x58000001;
            Min = 0x58000002;
            Sum = 0x58000003;
            InPlace = -1;
            StatusIgnore = 1;
        }
    }

    /// <summary>The file name the library was loaded from.</summary>
    public string Name { get; }

    public MpiFlavor Flavor { get; }

    public nint CommWorld { get; }
    public nint Float32 { get; }
    public nint Float64 { get; }
    public nint Int32 { get; }
    public nint Int64 { get; }
    public nint Byte { get; }
    public nint Sum { get; }
    public nint Max { get; }
    public nint Min { get; }

    /// <summary>MPI_IN_PLACE.</summary>
    public nint InPlace { get; }

    /// <summary>MPI_STATUS_IGNORE: (MPI_Status*)0 in Open MPI, (MPI_Status*)1 in MPICH.</summary>
    public nint StatusIgnore { get; }

    public nint Datatype(ElementKind kind) => kind switch
    {
        ElementKind.Float32 => Float32,
        ElementKind.Float64 => Float64,
        ElementKind.Int32 => Int32,
        ElementKind.Int64 => Int64,
        ElementKind.Byte => Byte,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown element kind"),
    };

    public nint Op(ReduceOperation operation) => operation switch
    {
        ReduceOperation.Sum => Sum,
        ReduceOperation.Max => Max,
        ReduceOperation.Min => Min,
        _ => throw new ArgumentOutOfRangeException(nameof(operation), operation, "valid: Sum, Max, Min"),
    };

    /// <summary>The first line of MPI_Get_library_version (e.g. "Open MPI v4.1.4, ...").</summary>
    public string Version()
    {
        var buffer = new byte[16384];
        int length = 0;
        fixed (byte* p = buffer)
            if (_libraryVersion(p, &length) != 0) return Name;
        var text = Encoding.UTF8.GetString(buffer, 0, Math.Clamp(length, 0, buffer.Length)).TrimEnd('\0');
        int newline = text.IndexOfAny(['\n', ',']);
        return (newline > 0 ? text[..newline] : text).Trim();
    }

    /// <summary>Throws <see cref="MpiException"/> when <paramref name="code"/> is not MPI_SUCCESS.</summary>
    public void Check(int code, string call)
    {
        if (code == 0) return;
        var buffer = new byte[2048];
        int length = 0;
        string text;
        fixed (byte* p = buffer)
            text = _errorString(code, p, &length) == 0 ? Encoding.UTF8.GetString(buffer, 0, Math.Clamp(length, 0, buffer.Length)) : "unknown error";
        throw new MpiException($"{call} failed with MPI error {code}: {text}", code);
    }

    /// <summary>Loads the MPI library: <c>TLT_MPI_LIBRARY</c> if set, else the one matching the launcher's environment first.</summary>
    /// <exception cref="DllNotFoundException">No MPI library could be loaded; the message lists what was tried.</exception>
    public static MpiLibrary Load()
    {
        var names = new List<string>();
        var chosen = Environment.GetEnvironmentVariable("TLT_MPI_LIBRARY");
        if (!string.IsNullOrWhiteSpace(chosen)) names.Add(chosen);
        else if (Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is null && Environment.GetEnvironmentVariable("PMI_SIZE") is not null)
            names.AddRange(MpichNames.Concat(OpenMpiNames));
        else names.AddRange(OpenMpiNames.Concat(MpichNames));
        var errors = new List<string>();
        foreach (var name in names)
        {
            nint handle = Open(name, out var error);
            if (handle != 0) return new MpiLibrary(handle, name);
            errors.Add($"{name}: {error}");
        }
        throw new DllNotFoundException("No MPI library could be loaded (install Open MPI, e.g. apt-get install openmpi-bin libopenmpi-dev, or MPICH; "
            + "or set TLT_MPI_LIBRARY to the library's path). Tried: " + string.Join("; ", errors));
    }

    private static nint Open(string name, out string error)
    {
        error = "not found";
        if (OperatingSystem.IsLinux())
        {
            try
            {
                nint handle = DlOpen(name, RtldNow | RtldGlobal);
                if (handle != 0) return handle;
                nint message = DlError();
                error = message == 0 ? "not found" : Marshal.PtrToStringUTF8(message) ?? "not found";
                return 0;
            }
            catch (DllNotFoundException) { }   // no glibc: fall back to the runtime's loader
            catch (EntryPointNotFoundException) { }
        }
        return NativeLibrary.TryLoad(name, out var h) ? h : 0;
    }

    [LibraryImport("libc.so.6", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint DlOpen(string file, int mode);

    [LibraryImport("libc.so.6", EntryPoint = "dlerror")]
    private static partial nint DlError();
}
