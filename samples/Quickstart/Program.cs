// Quickstart, the main job: RL with TLT on the embedded long-tail task, on this machine's CPU cores.
//   dotnet run -c Release --project samples/Quickstart -- [--steps N] [--seed S] [--out DIR] [--json FILE] [--tlt on|off] [--compare]
// Prepares (or reuses from its cache) the embedded target and a warm drafter, then runs RL steps with two
// rollout workers; with TLT on, speculation is adaptive and idle workers train the drafter online.
using System.Text.Json;
using System.Text.Json.Nodes;
using TltTrainer.IO;
using TltTrainer.Reporting;
using Quickstart;
using TltTrainer.Tasks;
using TorchSharp;

QuickstartOptions options;
try { options = QuickstartOptions.Parse(args); }
catch (Exception e) when (e is ArgumentException or FileNotFoundException)
{
    Console.Error.WriteLine($"quickstart: {e.Message}");
    return 2;
}
Console.WriteLine($"TltTrainer Quickstart: {options.Steps} RL steps, seed {options.Seed}, output {Path.GetFullPath(options.OutputDirectory)}");
Directory.CreateDirectory(options.OutputDirectory);
torch.set_num_threads(Environment.ProcessorCount);

using var target = EmbeddedTarget.LoadOrTrain(progress: new Progress<EmbeddedTargetProgress>(p =>
{
    if (p.Step % 60 == 0 && p.Phase == EmbeddedTargetPhase.Training) Console.WriteLine($"  training embedded target: step {p.Step}/{p.Steps}, loss {p.Loss:F3}");
}));
Console.WriteLine(target.FromCache ? $"Embedded target loaded from {target.CachePath}" : $"Embedded target trained and cached at {target.CachePath}");
using var warmDrafter = EmbeddedDrafter.LoadOrTrain(target, progress: new Progress<string>(m => Console.WriteLine($"  {m}")));

// Ctrl+C stops after the current decode step; the steps done so far are still reported.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); Console.WriteLine("Stopping (Ctrl+C)..."); };
var jobs = new List<QuickstartRun>();
try
{
    if (options.Compare || !options.Tlt) jobs.Add(new QuickstartRun(target, warmDrafter, options, tlt: false));
    if (options.Compare || options.Tlt) jobs.Add(new QuickstartRun(target, warmDrafter, options, tlt: true));
    Console.WriteLine(jobs.Count == 2 ? "RL with TLT off and on, step by step (the order alternates each step):" : $"RL with TLT {jobs[0].Name}:");
    StepDisplay.Run(jobs, options.Steps, options.Live, cancel.Token);
    foreach (var line in jobs[^1].ShowAnswers(options.Seed)) Console.WriteLine($"  {line}");
}
finally
{
    foreach (var job in jobs) job.Dispose();
}
var runs = jobs.Where(j => j.Steps.Count > 0).Select(j => new ReportRun(j.Name, j.Steps)).ToList();
if (runs.Count == 0)
{
    Console.WriteLine("No RL step finished; nothing to report.");
    return 1;
}
if (runs.Count == 2 && runs[0].Steps.Count != runs[1].Steps.Count)
    runs = runs.Select(r => r with { Steps = r.Steps.Take(runs.Min(x => x.Steps.Count)).ToList() }).ToList();   // compare whole steps only

var settings = JsonSerializer.SerializeToNode(options, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower })!.AsObject();
var report = RunReport.Write(options.OutputDirectory, runs, new ReportOptions { Title = "TltTrainer Quickstart", Extra = new JsonObject { ["settings"] = settings } });
if (options.JsonPath is not null) AtomicFile.WriteAllText(options.JsonPath, report.Summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
ResultsTable.Print(runs, report);
return 0;
