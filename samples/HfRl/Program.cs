// HfRl: RL with TLT on a local HuggingFace model (Llama/Qwen2 folder) and a JSONL prompt file with answers.
//   dotnet run -c Release --project samples/HfRl -- --model DIR --prompts FILE.jsonl [--steps N] [--out DIR] [--resume] ...
//   mpirun -np 2 dotnet samples/HfRl/bin/Release/net10.0/HfRl.dll --model DIR ...   (data-parallel over MPI ranks)
//   dotnet run -c Release --project samples/HfRl -- --help                           (every option, its default and range)
// The run itself is HfRlRun (callable in-process), the flags are HfRlCommandLine's; this file wires Ctrl+C and maps input
// errors to one line and exit code 2, a diverged policy to exit code 3, Ctrl+C to 130.
using HfRl;
using TltTrainer.Distributed;
using TorchSharp;

var commandLine = HfRlCommandLine.Run(args, Console.Out, Console.Error);
if (commandLine.Options is not { } options) return commandLine.ExitCode;   // help printed (0), or the input refused (2)
// Under mpirun every rank runs this program: one communicator, each rank on its share of the cores.
using var ranks = Communicator.FromEnvironment();
torch.set_num_threads(Communicator.CoresPerRank);

// Ctrl+C stops after the current decode step; the steps done are checkpointed.
using var cancel = new CancellationTokenSource();
// Under MPI an interrupt ends the job at once (the ranks would see it at different points and could wait on
// each other); the last checkpoint resumes it.
if (ranks.Size == 1) Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); Console.WriteLine("Stopping (Ctrl+C)..."); };
// An exception that escapes one rank ends the whole job, naming the rank (no rank left waiting).
return RankFailure.RunOrAbort(ranks, () =>
{
    try
    {
        var result = HfRlRun.Run(options, Console.Out, cancel.Token, ranks);
        if (ranks.Rank == 0) Console.WriteLine($"Metrics: {Path.GetFullPath(result.MetricsPath)}");
        if (result.Diverged is { } why)
        {
            Console.Error.WriteLine($"hfrl: {why}");
            return 3;
        }
        return result.Cancelled ? 130 : 0;
    }
    catch (Exception e) when (ranks.Size == 1 && e is ArgumentException or IOException or InvalidDataException)
    {
        // FileNotFoundException and DirectoryNotFoundException are IOExceptions; the messages name the file, line or option.
        // Under MPI the error propagates instead: it may have happened on this rank alone (a full disk on rank 0's
        // checkpoint), and only RunOrAbort's abort ends the ranks waiting for it.
        Console.Error.WriteLine($"hfrl: {e.Message}");
        return 2;
    }
}, Console.Error);
