// Test helper launched by the MPI tests, one process per rank (or alone for a single-process reference):
//   collectives --out DIR      run each collective on rank-dependent inputs and write the results
//   train --out DIR ...        a few data-parallel RL steps on the tiny model (see TrainMode)
//   allreduce-bench [--mb M]   time an in-place all-reduce of M MiB (benchmark)
// Every rank writes its own files (suffix -rankR); the tests compare them with hand-computed values or
// with a single-process run. Failures go through RankFailure, so a throwing rank ends the job, named.
using TltTrainer.Distributed;
using TltTrainer.MpiHost;

var options = HostArguments.Parse(args);
using var communicator = Communicator.FromEnvironment();
return RankFailure.RunOrAbort(communicator, () => options.Mode switch
{
    "collectives" => CollectivesMode.Run(communicator, options),
    "train" => TrainMode.Run(communicator, options),
    "allreduce-bench" => CollectivesMode.Bench(communicator, options),
    _ => throw new ArgumentException($"mode '{options.Mode}' is unknown; valid: collectives, train, allreduce-bench."),
}, Console.Error);
