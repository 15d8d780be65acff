namespace TltTrainer.Tests.TestSupport;

/// <summary>The MPI implementation a multi-host test launches with.</summary>
public enum MpiFlavor
{
    /// <summary>Open MPI's mpirun.</summary>
    OpenMpi,

    /// <summary>MPICH's mpiexec.mpich (hydra).</summary>
    Mpich,
}

/// <summary>A fact over two simulated hosts (<see cref="NetworkNamespacePair"/>), reported as skipped, with the reason,
/// where the launcher is not installed or network namespaces cannot be created (not root, no <c>ip</c>, no CAP_SYS_ADMIN).</summary>
public sealed class MultiHostFactAttribute : FactAttribute
{
    public MultiHostFactAttribute(MpiFlavor flavor)
    {
        if (flavor == MpiFlavor.OpenMpi && MpiLauncher.MpiRun is null)
            Skip = "mpirun not found on PATH: install Open MPI (apt-get install -y openmpi-bin libopenmpi-dev) to run the multi-host tests.";
        else if (flavor == MpiFlavor.Mpich && MpiLauncher.MpichExec is null)
            Skip = "mpiexec.mpich not found on PATH: install MPICH (apt-get install -y mpich) to run the MPICH multi-host tests.";
        else if (NetworkNamespacePair.Unavailable is { } why)
            Skip = $"the two simulated hosts are network namespaces, which cannot be created here: {why}";
    }
}
