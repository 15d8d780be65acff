namespace TltTrainer.Distributed;

/// <summary>An MPI call returned an error code (with MPI's default error handler, MPI usually aborts the job instead).</summary>
public sealed class MpiException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MpiException(string message, int errorCode) : base(message) => ErrorCode = errorCode;

    /// <summary>The MPI error code.</summary>
    public int ErrorCode { get; }
}
