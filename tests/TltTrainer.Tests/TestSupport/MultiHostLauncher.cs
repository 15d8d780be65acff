// Launches the MPI test host as a two-host job over a NetworkNamespacePair: one rank per "host", the
// launcher in the first host's namespace, the second host reached through a launch agent (an ssh stand-in
// that runs the remote command under `ip netns exec` in the namespace of the address it is given), and MPI
// restricted to TCP on the pair's link, so no shared memory can carry a message between the ranks:
//   Open MPI: --mca pml ob1 --mca btl tcp,self (the point-to-point path is TCP or a rank to itself), both
//             btl_tcp_if_include and oob_tcp_if_include on the link's subnet (daemons and ranks alike), and
//             btl_base_verbose, whose "Using tcp btl for send to ..." lines the tests check.
//   MPICH:    hydra with -launcher ssh -launcher-exec AGENT and -iface on the link; the ch4:ucx device with
//             UCX_TLS=tcp,self on the link only, MPIR_CVAR_NOLOCAL=1 (no node-local shared-memory path), and
//             UCX_LOG_LEVEL=info, whose "ep_cfg[...]" lines name the transport of every endpoint.
// The agent writes one "netns-agent: ADDRESS -> network namespace NS" line per remote start to the job's output.
namespace TltTrainer.Tests.TestSupport;

/// <summary>Runs the MPI test host on the two hosts of a <see cref="NetworkNamespacePair"/>; see the file header.</summary>
internal static class MultiHostLauncher
{
    private static readonly Dictionary<string, string> RootEnvironment = new()
    {
        ["OMPI_ALLOW_RUN_AS_ROOT"] = "1",
        ["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1",
    };

    /// <summary>Runs the host under Open MPI's mpirun, one rank per host; files (hostfile, agent) go to <paramref name="work"/>.</summary>
    public static LaunchResult RunUnderOpenMpi(NetworkNamespacePair pair, string work, TimeSpan timeout, params string[] hostArgs)
    {
        string hostfile = Write(work, "hostfile", string.Concat(pair.Hosts.Select(h => $"{h.Address} slots=1\n")));
        string agent = WriteAgent(pair, work);
        var launcher = new List<string>
        {
            "netns", "exec", pair.First.Namespace,
            MpiLauncher.MpiRun ?? throw new InvalidOperationException("mpirun not found on PATH."),
            "--allow-run-as-root", "--hostfile", hostfile, "-np", "2", "--map-by", "node",
            "--mca", "plm_rsh_agent", agent,
            "--mca", "oob_tcp_if_include", NetworkNamespacePair.Subnet,
            "--mca", "pml", "ob1",
            "--mca", "btl", "tcp,self",
            "--mca", "btl_tcp_if_include", NetworkNamespacePair.Subnet,
            "--mca", "btl_base_verbose", "30",
            "-x", "UCX_ERROR_SIGNALS", "-x", "OMP_NUM_THREADS",
            "dotnet", MpiLauncher.HostPath,
        };
        return MpiLauncher.Launch(NetworkNamespacePair.Ip!, launcher.Concat(hostArgs), timeout, RootEnvironment);
    }

    /// <summary>Runs the host under MPICH's mpiexec (hydra), one rank per host; files (hosts file, agent) go to <paramref name="work"/>.</summary>
    public static LaunchResult RunUnderMpich(NetworkNamespacePair pair, string work, TimeSpan timeout, params string[] hostArgs)
    {
        string hosts = Write(work, "hosts", string.Concat(pair.Hosts.Select(h => $"{h.Address}:1\n")));
        string agent = WriteAgent(pair, work);
        var launcher = new List<string>
        {
            "netns", "exec", pair.First.Namespace,
            MpiLauncher.MpichExec ?? throw new InvalidOperationException("mpiexec.mpich not found on PATH."),
            "-f", hosts, "-n", "2", "-launcher", "ssh", "-launcher-exec", agent, "-iface", NetworkNamespacePair.Interface,
            "-genv", "UCX_TLS", "tcp,self",
            "-genv", "UCX_NET_DEVICES", NetworkNamespacePair.Interface,
            "-genv", "MPIR_CVAR_NOLOCAL", "1",
            "-genv", "UCX_LOG_LEVEL", "info",
            "-genv", "UCX_ERROR_SIGNALS", "",
            "-genv", "OMP_NUM_THREADS", "1",
            "dotnet", MpiLauncher.HostPath,
        };
        return MpiLauncher.Launch(NetworkNamespacePair.Ip!, launcher.Concat(hostArgs), timeout);
    }

    /// <summary>The ssh stand-in: <c>AGENT [-options] HOST COMMAND...</c> runs COMMAND in the namespace of HOST's address.</summary>
    private static string WriteAgent(NetworkNamespacePair pair, string work)
    {
        string cases = string.Concat(pair.Hosts.Select(h => $"  {h.Address}) ns={h.Namespace};;\n"));
        string path = Write(work, "netns-agent.sh", $$"""
            #!/bin/sh
            # ssh stand-in for MPI launchers: [ssh options] HOST COMMAND... runs COMMAND in HOST's network namespace.
            while [ $# -gt 0 ]; do case "$1" in -*) shift;; *) break;; esac; done
            host="$1"; shift
            case "$host" in
            {{cases}}  *) echo "netns-agent: unknown host '$host'" >&2; exit 255;;
            esac
            echo "netns-agent: $host -> network namespace $ns" >&2
            exec {{NetworkNamespacePair.Ip}} netns exec "$ns" /bin/sh -c "$*"

            """);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        return path;
    }

    private static string Write(string directory, string name, string content)
    {
        string path = Path.Combine(directory, name);
        File.WriteAllText(path, content);
        return path;
    }
}
