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
var runs = new List<ReportRun>();
if (options.Compare || !options.Tlt) runs.Add(new ReportRun("off", QuickstartRun.Run(target, warmDrafter, options, tlt: false, cancel.Token)));
if ((options.Compare || options.Tlt) && !cancel.IsCancellationRequested) runs.Add(new ReportRun("on", QuickstartRun.Run(target, warmDrafter, options, tlt: true, cancel.Token)));
runs.RemoveAll(r => r.Steps.Count == 0);
if (runs.Count == 0)
{
    Console.WriteLine("No RL step finished; nothing to report.");
    return 1;
}

var settings = JsonSerializer.SerializeToNode(options, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower })!.AsObject();
var report = RunReport.Write(options.OutputDirectory, runs, new ReportOptions { Title = "TltTrainer Quickstart", Extra = new JsonObject { ["settings"] = settings } });
if (options.JsonPath is not null) AtomicFile.WriteAllText(options.JsonPath, report.Summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
ResultsTable.Print(runs, report);
return 0;
