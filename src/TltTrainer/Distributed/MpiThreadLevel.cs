namespace TltTrainer.Distributed;

/// <summary>The MPI thread support level requested at initialisation (the same values in Open MPI and MPICH).</summary>
public enum MpiThreadLevel
{
    /// <summary>One thread in the process.</summary>
    Single = 0,

    /// <summary>Many threads, but only the one that initialised MPI calls it (the default: TorchSharp works on other threads, communication stays on one).</summary>
    Funneled = 1,

    /// <summary>Many threads call MPI, never two at once.</summary>
    Serialized = 2,

    /// <summary>Many threads call MPI at once.</summary>
    Multiple = 3,
}
