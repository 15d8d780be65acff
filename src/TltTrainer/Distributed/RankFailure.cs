// A rank that throws must not leave the others waiting forever in their next collective. RunOrAbort
// reports the failure with the rank named, then MPI_Abort ends every rank of the job at once (mpirun
// then exits non-zero). In a single process the exception propagates as usual.
using Microsoft.Extensions.Logging;

namespace TltTrainer.Distributed;

/// <summary>Turns an exception on one rank into a prompt, named end of the whole job.</summary>
public static partial class RankFailure
{
    /// <summary>
    /// Runs <paramref name="body"/>; if it throws in a multi-rank job, writes
    /// "rank R of N failed: ..." to <paramref name="error"/> and the logger, then aborts the job with exit code 1.
    /// </summary>
    /// <param name="communicator">The job's communicator.</param>
    /// <param name="body">The rank's work; returns the process exit code.</param>
    /// <param name="error">Where the failure is written (e.g. standard error), flushed before the abort.</param>
    /// <param name="logger">Also told, at Critical level.</param>
    /// <returns>The body's exit code.</returns>
    public static int RunOrAbort(ICommunicator communicator, Func<int> body, TextWriter error, ILogger? logger = null)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (communicator.Size > 1)
        {
            error.WriteLine($"rank {communicator.Rank} of {communicator.Size} failed: {e}");
            error.Flush();
            if (logger is not null) LogFailure(logger, communicator.Rank, communicator.Size, e);
            // The launcher forwards a remote rank's output through its proxy, which the abort tears down: without a pause
            // the line naming the failure was lost about once in a few dozen MPICH runs between hosts under load.
            Thread.Sleep(OutputGrace);
            communicator.Abort(1);
            return 1;
        }
    }

    /// <summary>How long a failing rank waits, after writing the failure, for the launcher to forward it before aborting.</summary>
    public static readonly TimeSpan OutputGrace = TimeSpan.FromMilliseconds(300);

    [LoggerMessage(Level = LogLevel.Critical, Message = "rank {Rank} of {Size} failed; aborting the job")]
    private static partial void LogFailure(ILogger logger, int rank, int size, Exception exception);
}
