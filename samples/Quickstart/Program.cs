// Quickstart, the main job: RL with TLT on the embedded long-tail task, on this machine's CPU cores.
//   dotnet run -c Release --project samples/Quickstart -- [--steps N] [--seed S] [--out DIR] [--json FILE] [--tlt on|off] [--compare]
// Prepares (or reuses from its cache) the embedded target and a warm drafter, then runs RL steps with two
// rollout workers; with TLT on, speculation is adaptive and idle workers train the drafter online.
using System.Text.Json;
using System.Text.Json.Nodes;
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
RunSummary? off = null, on = null;
if (options.Compare || !options.Tlt) off = QuickstartRun.Run(target, warmDrafter, options, tlt: false, cancel.Token);
if ((options.Compare || options.Tlt) && !cancel.IsCancellationRequested) on = QuickstartRun.Run(target, warmDrafter, options, tlt: true, cancel.Token);

var report = new JsonObject();
var main = on ?? off!;
report["steps"] = JsonNode.Parse(JsonSerializer.Serialize(main.Steps));
report["summary"] = main.ToJson();
if (off is not null && on is not null)
{
    report["off"] = off.ToJson();
    report["on"] = on.ToJson();
    report["speedup_end_to_end"] = Math.Round(off.StepTimeMean / on.StepTimeMean, 3);
    report["rollout_speedup"] = Math.Round(off.RolloutTimeMean / on.RolloutTimeMean, 3);
    report["accept_len_by_step"] = new JsonArray(on.Steps.Select(s => (JsonNode)Math.Round(s.AcceptLength, 3)).ToArray());
    report["idle_used_fraction"] = Math.Round(on.IdleUsedFraction, 3);
    report["drafter_critical_path_share"] = Math.Round(on.DrafterCriticalPathShare, 4);
    report["reward_curve_gap"] = Math.Round(off.Steps.Zip(on.Steps).Max(p => Math.Abs(p.First.RewardMean - p.Second.RewardMean)), 4);
    Console.WriteLine($"End-to-end step speedup TLT on vs off: {report["speedup_end_to_end"]}x, rollout {report["rollout_speedup"]}x");
}
var text = report.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
File.WriteAllText(Path.Combine(options.OutputDirectory, "summary.json"), text);
if (options.JsonPath is not null) File.WriteAllText(options.JsonPath, text);
Console.WriteLine($"Report: {Path.GetFullPath(Path.Combine(options.OutputDirectory, "summary.json"))}");
return 0;
