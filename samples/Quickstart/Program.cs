// Quickstart, the main job: RL with TLT on the embedded long-tail task, on this machine's CPU cores.
//   dotnet run -c Release --project samples/Quickstart -- [--steps N] [--seed S] [--out DIR] [--json FILE] [--tlt on|off] [--compare] ...
//   dotnet run -c Release --project samples/Quickstart -- --help       (every option, its default and range)
//   mpirun -np 2 dotnet samples/Quickstart/bin/Release/net10.0/Quickstart.dll --steps N   (data-parallel over MPI ranks)
// Prepares (or reuses from its cache) the embedded target and a warm drafter, then runs RL steps with two
// rollout workers; with TLT on, speculation is adaptive and idle workers train the drafter online.
using System.Text.Json;
using System.Text.Json.Nodes;
using TltTrainer.Distributed;
using TltTrainer.IO;
using TltTrainer.Reporting;
using Quickstart;
using TltTrainer.Tasks;
using TorchSharp;

var commandLine = QuickstartCommandLine.Run(args, Console.Out, Console.Error);
if (commandLine.Options is not { } options) return commandLine.ExitCode;   // help printed (0), or the input refused (2)
// Under mpirun every rank runs this program (data-parallel RL); rank 0 alone prints and writes files.
using var ranks = Communicator.FromEnvironment();
bool writer = ranks.Rank == 0;
torch.set_num_threads(Communicator.CoresPerRank);
return RankFailure.RunOrAbort(ranks, () =>
{
    if (writer) Console.WriteLine($"TltTrainer Quickstart: {options.Steps} RL steps, seed {options.Seed}, output {Path.GetFullPath(options.OutputDirectory)}"
        + (ranks.Size > 1 ? $", {ranks.Size} ranks ({ranks.Description})" : ""));
    // One run per output folder: two would write the same metrics and report files.
    DirectoryLock? outLock = null;
    try { if (writer) outLock = DirectoryLock.Acquire(options.OutputDirectory, "--out"); }
    catch (IOException e) when (ranks.Size == 1)
    {
        Console.Error.WriteLine($"quickstart: {e.Message}");
        return 2;
    }
    using var heldLock = outLock;

    // Rank 0 trains (or loads) the cached target and drafter first; the others then load them from the cache.
    if (!writer) ranks.SleepingBarrier(pollMilliseconds: 5);
    using var target = EmbeddedTarget.LoadOrTrain(progress: new Progress<EmbeddedTargetProgress>(p =>
    {
        if (writer && p.Step % 60 == 0 && p.Phase == EmbeddedTargetPhase.Training) Console.WriteLine($"  training embedded target: step {p.Step}/{p.Steps}, loss {p.Loss:F3}");
    }));
    if (writer) Console.WriteLine(target.FromCache ? $"Embedded target loaded from {target.CachePath}" : $"Embedded target trained and cached at {target.CachePath}");
    using var warmDrafter = EmbeddedDrafter.LoadOrTrain(target, progress: new Progress<string>(m => { if (writer) Console.WriteLine($"  {m}"); }));
    if (writer) ranks.SleepingBarrier(pollMilliseconds: 5);   // one barrier per rank: rank 0 enters it after preparing, the others before

    // Ctrl+C stops after the current decode step; the steps done so far are still reported.
    using var cancel = new CancellationTokenSource();
    // Under MPI an interrupt ends the job at once (the ranks would see it at different points and could wait on
    // each other); the last checkpoint resumes it.
    if (ranks.Size == 1) Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); Console.WriteLine("Stopping (Ctrl+C)..."); };
    var jobs = new List<QuickstartRun>();
    JsonObject? replay = null;
    try
    {
        if (options.Compare || !options.Tlt) jobs.Add(new QuickstartRun(target, warmDrafter, options, tlt: false, ranks));
        if (options.Compare || options.Tlt) jobs.Add(new QuickstartRun(target, warmDrafter, options, tlt: true, ranks));
        if (writer) Console.WriteLine(jobs.Count == 2 ? "RL with TLT off and on, step by step (the order alternates each step):" : $"RL with TLT {jobs[0].Name}:");
        StepDisplay.Run(jobs, options.Steps, writer && options.Live, cancel.Token, quiet: !writer);
        if (writer) foreach (var line in jobs[^1].ShowAnswers(options.Seed)) Console.WriteLine($"  {line}");
        if (writer) foreach (var job in jobs) foreach (var line in job.HeldOutLines()) Console.WriteLine($"  held-out, TLT {job.Name}: {line}");
        // The replay benchmark (--compare): the TLT run's last rounds again, in isolation, plain and with TLT.
        if (writer && !cancel.IsCancellationRequested && jobs.Count == 2 && jobs[1].Recording is { Rounds.Count: > 0 } recording)
        {
            Console.WriteLine($"Replaying the last {recording.Rounds.Count} rollout round(s) in isolation, plain and with TLT...");
            replay = ReplayBench.Run(recording.Rounds, jobs[0].Steps, jobs[1].Steps, jobs[1].StackOptions, jobs[1].Config);
            Console.WriteLine($"  replay rollout speedup {replay["replay_rollout_speedup"]}x, in the job {replay["in_job_rollout_speedup"]}x "
                + $"(in job / replay {replay["in_job_over_replay"]}), tokens identical: {replay["replay_tokens_identical"]}");
        }
    }
    catch (ArgumentException e) when (ranks.Size == 1)
    {
        // Under MPI the error propagates instead: it may be this rank's alone, and only RunOrAbort's abort ends the
        // ranks waiting for it.
        Console.Error.WriteLine($"quickstart: {e.Message}");
        return 2;
    }
    catch (TltTrainer.Rl.PolicyDivergedException e)
    {
        // Every rank's replica diverges alike (same weights, same update), so every rank ends here.
        if (writer) Console.Error.WriteLine($"quickstart: {e.Message}; lower --lr.");
        return 3;
    }
    finally
    {
        foreach (var job in jobs) job.Dispose();
    }
    if (!writer) return 0;
    var runs = jobs.Where(j => j.Steps.Count > 0).Select(j => new ReportRun(j.Name, j.Steps)).ToList();
    if (runs.Count == 0)
    {
        Console.WriteLine("No RL step finished; nothing to report.");
        return 1;
    }
    if (runs.Count == 2 && runs[0].Steps.Count != runs[1].Steps.Count)
        runs = runs.Select(r => r with { Steps = r.Steps.Take(runs.Min(x => x.Steps.Count)).ToList() }).ToList();   // compare whole steps only

    var settings = JsonSerializer.SerializeToNode(options, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower })!.AsObject();
    if (ranks.Size > 1) settings["ranks"] = ranks.Size;
    var extra = new JsonObject { ["settings"] = settings };
    if (replay is not null) foreach (var (key, value) in replay) extra[key] = value?.DeepClone();
    var report = RunReport.Write(options.OutputDirectory, runs, new ReportOptions { Title = "TltTrainer Quickstart", Extra = extra });
    if (options.JsonPath is not null) AtomicFile.WriteAllText(options.JsonPath, report.Summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    ResultsTable.Print(runs, report);
    return 0;
}, Console.Error);
