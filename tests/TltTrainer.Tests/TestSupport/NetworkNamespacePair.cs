// Two "hosts" on one machine: two network namespaces joined by a veth pair (10.231.0.1 and 10.231.0.2 on
// an interface named tltveth in each), with nothing else in them but loopback. A process started in one
// (`ip netns exec NS ...`) reaches the other only over that link, so MPI between them runs over TCP as it
// would between two machines. Files stay shared (same mount tree), like a shared checkpoint folder.
// Creating one needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) and iproute2; Unavailable says why not, for the
// tests to skip. Dispose ends the processes still inside and deletes both namespaces (the veth pair goes
// with them), also when the test failed; pairs left behind by a killed test run are deleted by the next one.
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace TltTrainer.Tests.TestSupport;

/// <summary>One simulated host: a network namespace and its address on the pair's link.</summary>
/// <param name="Namespace">The namespace's name (for <c>ip netns exec</c>).</param>
/// <param name="Address">Its IPv4 address on <see cref="NetworkNamespacePair.Interface"/>.</param>
public sealed record SimulatedHost(string Namespace, string Address);

/// <summary>Two network namespaces joined by a veth pair; see the file header.</summary>
public sealed partial class NetworkNamespacePair : IDisposable
{
    /// <summary>The veth end's name, the same in both namespaces.</summary>
    public const string Interface = "tltveth";

    /// <summary>The link's subnet (CIDR), for MPI's interface selection.</summary>
    public const string Subnet = "10.231.0.0/30";

    private const string Prefix = "tltmh";
    private static int _created;
    private static readonly Lazy<string?> Probe = new(FindWhyUnavailable);
    private bool _disposed;

    private NetworkNamespacePair(string tag)
    {
        First = new SimulatedHost($"{Prefix}-{Environment.ProcessId}-{tag}-a", "10.231.0.1");
        Second = new SimulatedHost($"{Prefix}-{Environment.ProcessId}-{tag}-b", "10.231.0.2");
    }

    /// <summary>The first host (where a launcher runs).</summary>
    public SimulatedHost First { get; }

    /// <summary>The second host.</summary>
    public SimulatedHost Second { get; }

    /// <summary>Both hosts.</summary>
    public IReadOnlyList<SimulatedHost> Hosts => [First, Second];

    /// <summary>Why pairs cannot be created on this machine (not Linux, not root, no <c>ip</c>, no CAP_SYS_ADMIN), or null if they can.</summary>
    public static string? Unavailable => Probe.Value;

    /// <summary>Full path of <c>ip</c> on PATH, or null.</summary>
    public static string? Ip { get; } = MpiLauncher.FindOnPath("ip");

    /// <summary>Creates a pair (and deletes any left behind by test processes that no longer run).</summary>
    /// <exception cref="InvalidOperationException">An <c>ip</c> command failed; the message has its output.</exception>
    public static NetworkNamespacePair Create()
    {
        DeleteOrphans();
        var pair = new NetworkNamespacePair(Interlocked.Increment(ref _created).ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            foreach (var host in pair.Hosts) RunIp("netns", "add", host.Namespace);
            RunIp("link", "add", Interface, "netns", pair.First.Namespace, "type", "veth", "peer", "name", Interface, "netns", pair.Second.Namespace);
            foreach (var host in pair.Hosts)
            {
                RunIp("-n", host.Namespace, "addr", "add", $"{host.Address}/30", "dev", Interface);
                RunIp("-n", host.Namespace, "link", "set", Interface, "up");
                RunIp("-n", host.Namespace, "link", "set", "lo", "up");
            }
            foreach (var host in pair.Hosts) WaitUntilRunning(host);
            return pair;
        }
        catch
        {
            pair.Dispose();
            throw;
        }
    }

    /// <summary>Waits until the host's link reports carrier ("state UP"), which follows "link set up" by a few
    /// milliseconds: UCX (MPICH's transport) ignores an interface that is up but not yet running.</summary>
    private static void WaitUntilRunning(SimulatedHost host)
    {
        var clock = Stopwatch.StartNew();
        while (!RunIp("-n", host.Namespace, "-o", "link", "show", "dev", Interface).Contains("state UP", StringComparison.Ordinal))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30)) throw new InvalidOperationException($"{Interface} in {host.Namespace} did not come up within 30 s.");
            Thread.Sleep(20);
        }
    }

    /// <summary>Ends the processes still in the namespaces (a launcher that timed out) and deletes both namespaces.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var host in Hosts)
        {
            foreach (int pid in ProcessesIn(host.Namespace))
            {
                try { using var process = Process.GetProcessById(pid); process.Kill(); }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception) { }   // already gone
            }
            TryRunIp("netns", "delete", host.Namespace);
        }
    }

    private static IEnumerable<int> ProcessesIn(string ns) =>
        TryRunIp("netns", "pids", ns) is { } pids
            ? pids.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p, System.Globalization.CultureInfo.InvariantCulture))
            : [];

    /// <summary>Deletes namespaces of this kind whose creating process is gone (a test host killed mid-test).</summary>
    private static void DeleteOrphans()
    {
        foreach (var line in (TryRunIp("netns", "list") ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string name = line.Split(' ')[0];
            if (OwnedName().Match(name) is not { Success: true } m) continue;
            int pid = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            bool alive;
            try { using var owner = Process.GetProcessById(pid); alive = !owner.HasExited; }
            catch (ArgumentException) { alive = false; }
            if (!alive) TryRunIp("netns", "delete", name);
        }
    }

    [GeneratedRegex("^tltmh-([0-9]+)-[0-9]+-[ab]$")]
    private static partial Regex OwnedName();

    private static string? FindWhyUnavailable()
    {
        if (!OperatingSystem.IsLinux()) return "network namespaces need Linux.";
        if (Ip is null) return "the `ip` command (iproute2) is not on PATH: apt-get install -y iproute2.";
        if (!Environment.IsPrivilegedProcess) return "not root: creating network namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN).";
        try
        {
            using var probe = Create();
            return null;
        }
        catch (InvalidOperationException e)
        {
            return $"could not create two network namespaces joined by a veth pair (a container without CAP_SYS_ADMIN / CAP_NET_ADMIN?): {e.Message}";
        }
    }

    private static string RunIp(params string[] args) =>
        TryRunIp(args, out string output) ? output : throw new InvalidOperationException($"ip {string.Join(' ', args)} failed: {output.Trim()}");

    private static string? TryRunIp(params string[] args) => TryRunIp(args, out string output) ? output : null;

    private static bool TryRunIp(string[] args, out string output)
    {
        var info = new ProcessStartInfo(Ip ?? "ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        output = stdout + stderr.Result;
        return process.ExitCode == 0;
    }
}
