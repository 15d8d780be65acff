using System.Diagnostics;
using System.Reflection;

namespace TltTrainer.Tests.TestSupport;

/// <summary>Result of a launched job.</summary>
public sealed record LaunchResult(int ExitCode, string Output, TimeSpan Elapsed, bool TimedOut);

/// <summary>Launches the MPI test host (tests/TltTrainer.MpiHost), or another .NET program, under mpirun or alone.</summary>
internal static class MpiLauncher
{
    /// <summary>Full path of mpirun on PATH, or null.</summary>
    public static string? MpiRun { get; } = FindOnPath("mpirun");

    /// <summary>The host's built assembly.</summary>
    public static string HostPath { get; } = typeof(MpiLauncher).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "MpiHostPath").Value!;

    /// <summary>MPICH's launcher (Debian's mpich package) on PATH, or null.</summary>
    public static string? MpichExec { get; } = FindOnPath("mpiexec.mpich");

    /// <summary>Runs the host on <paramref name="ranks"/> ranks with MPICH's mpiexec.</summary>
    public static LaunchResult RunUnderMpich(int ranks, TimeSpan timeout, params string[] hostArgs)
    {
        var launcher = new[] { "-np", ranks.ToString(), "-genv", "UCX_ERROR_SIGNALS", "", "-genv", "OMP_NUM_THREADS", "1", "dotnet", HostPath };
        return Launch(MpichExec ?? throw new InvalidOperationException("mpiexec.mpich not found on PATH."), launcher.Concat(hostArgs), timeout);
    }

    /// <summary>Runs the host on <paramref name="ranks"/> ranks with mpirun (0 = alone, no mpirun).</summary>
    public static LaunchResult Run(int ranks, TimeSpan timeout, params string[] hostArgs) => RunProgram(HostPath, ranks, timeout, hostArgs);

    /// <summary>Runs the .NET program <paramref name="dll"/> on <paramref name="ranks"/> ranks with mpirun (0 = alone, no mpirun).</summary>
    public static LaunchResult RunProgram(string dll, int ranks, TimeSpan timeout, params string[] hostArgs)
    {
        if (ranks == 0) return Launch("dotnet", new[] { dll }.Concat(hostArgs), timeout);
        var launcher = new[] { "--allow-run-as-root", "--oversubscribe", "-np", ranks.ToString(), "-x", "UCX_ERROR_SIGNALS", "-x", "OMP_NUM_THREADS", "dotnet", dll };
        return Launch(MpiRun ?? throw new InvalidOperationException("mpirun not found on PATH."), launcher.Concat(hostArgs), timeout);
    }

    /// <summary>Runs <paramref name="program"/> with its output (stdout and stderr) captured; killed with its process tree after <paramref name="timeout"/>.</summary>
    internal static LaunchResult Launch(string program, IEnumerable<string> arguments, TimeSpan? timeout = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo { FileName = program, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // UCX would turn a managed NullReferenceException into a crash; one OpenMP thread per rank on a small machine.
        info.Environment["UCX_ERROR_SIGNALS"] = "";
        info.Environment["OMP_NUM_THREADS"] = "1";
        info.Environment.Remove("OMPI_COMM_WORLD_SIZE");
        info.Environment.Remove("PMI_SIZE");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) info.Environment[name] = value;
        foreach (var a in arguments) info.ArgumentList.Add(a);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        bool exited = process.WaitForExit(timeout ?? TimeSpan.FromMinutes(2));
        if (!exited) process.Kill(entireProcessTree: true);
        process.WaitForExit();
        lock (output) return new LaunchResult(exited ? process.ExitCode : -1, output.ToString(), clock.Elapsed, !exited);
    }

    /// <summary>Full path of <paramref name="name"/> on PATH, or null.</summary>
    internal static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
}

/// <summary>A fact that is reported as skipped when mpirun is not installed.</summary>
public sealed class MpiFactAttribute : FactAttribute
{
    public MpiFactAttribute()
    {
        if (MpiLauncher.MpiRun is null)
            Skip = "mpirun not found on PATH: install Open MPI (apt-get install -y openmpi-bin libopenmpi-dev) to run the multi-rank tests.";
    }
}

/// <summary>A fact that is reported as skipped when MPICH's mpiexec.mpich is not installed.</summary>
public sealed class MpichFactAttribute : FactAttribute
{
    public MpichFactAttribute()
    {
        if (MpiLauncher.MpichExec is null)
            Skip = "mpiexec.mpich not found on PATH: install MPICH (apt-get install -y mpich) to run the MPICH tests.";
    }
}
