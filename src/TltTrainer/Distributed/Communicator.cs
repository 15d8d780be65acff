// Picks the communicator from the environment, so the same program runs alone or under mpirun:
// Open MPI's launcher sets OMPI_COMM_WORLD_SIZE, MPICH's Hydra sets PMI_SIZE; TLT_MPI=1 forces MPI
// (e.g. another launcher), TLT_MPI=0 forces a single process.
namespace TltTrainer.Distributed;

/// <summary>Creates the job's communicator.</summary>
public static class Communicator
{
    /// <summary>True when this process was started by an MPI launcher (or <c>TLT_MPI=1</c>).</summary>
    public static bool LaunchedByMpi
    {
        get
        {
            var forced = Environment.GetEnvironmentVariable("TLT_MPI");
            if (forced == "1") return true;
            if (forced == "0") return false;
            return Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null || Environment.GetEnvironmentVariable("PMI_SIZE") is not null;
        }
    }

    /// <summary>
    /// Ranks the launcher started on this machine (Open MPI's OMPI_COMM_WORLD_LOCAL_SIZE, MPICH Hydra's
    /// MPI_LOCALNRANKS); 1 when not launched by MPI or not told.
    /// </summary>
    public static int LocalRanks
    {
        get
        {
            foreach (var name in new[] { "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS" })
                if (int.TryParse(Environment.GetEnvironmentVariable(name), out int n) && n > 0) return n;
            return 1;
        }
    }

    /// <summary>
    /// This rank's share of the machine's cores (all of them for a single process), at least 1. When the launcher
    /// bound the rank to some cores (its CPU affinity is narrower than the machine), those are its share already.
    /// </summary>
    public static int CoresPerRank
    {
        get
        {
            int visible = Environment.ProcessorCount;
            return BoundToFewerCores() ? Math.Max(1, visible) : Math.Max(1, visible / LocalRanks);
        }
    }

    private static bool BoundToFewerCores()
    {
        try
        {
            if (!OperatingSystem.IsLinux()) return false;
            // "0-3,8-11": the CPUs online on this machine.
            int online = 0;
            foreach (var part in File.ReadAllText("/sys/devices/system/cpu/online").Trim().Split(','))
            {
                var ends = part.Split('-');
                online += ends.Length == 2 ? int.Parse(ends[1]) - int.Parse(ends[0]) + 1 : 1;
            }
            if (online > 64) return false;   // the affinity mask below covers 64 CPUs
            long mask = System.Diagnostics.Process.GetCurrentProcess().ProcessorAffinity.ToInt64();
            return System.Numerics.BitOperations.PopCount((ulong)mask) < online;
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException or InvalidOperationException or PlatformNotSupportedException)
        {
            return false;
        }
    }

    /// <summary>
    /// <see cref="MpiCommunicator"/> when launched by MPI, else <see cref="SingleProcessCommunicator.Instance"/>.
    /// Call on the thread that will communicate; dispose the result at the end of the program.
    /// </summary>
    /// <param name="threadLevel">MPI thread level to request.</param>
    public static ICommunicator FromEnvironment(MpiThreadLevel threadLevel = MpiThreadLevel.Funneled) =>
        LaunchedByMpi ? MpiCommunicator.Initialize(threadLevel) : SingleProcessCommunicator.Instance;
}
