// SpecBench: decode throughput, and speculative vs plain decoding side by side in one run.
// Usage: dotnet run -c Release --project samples/SpecBench -- [--quick] [--json FILE] [--threads N] [--shared DIR] [--only DRAFTERS]
//   --help lists the options with their defaults. --shared: where the TinyStories-656K checkpoint is (DIR/models/tinystories-656k,
//   DIR/tinystories-656k or DIR itself; default shared/models/tinystories-656k above the repository root; the real-model
//   table is skipped without it). --only: comma-separated drafters to measure beside plain (ngram, eagle-untrained,
//   eagle-trained, adaptive; default all).
//   --adaptation, --tinystories-drafter, --positions: one of the drafter studies of issue 14 instead (Studies.cs).
using System.Text.Json;
using System.Text.Json.Nodes;
using SpecBench;
using TltTrainer.IO;
using TltTrainer.Models;
using TltTrainer.Tasks;
using TorchSharp;
using static TorchSharp.torch;

var commandLine = SpecBenchCommandLine.Run(args, Console.Out, Console.Error);
if (commandLine.Options is not { } options) return commandLine.ExitCode;   // help printed (0), or the input refused (2)
bool quick = options.Quick;
var only = options.Only;
int threads = options.Threads;
torch.set_num_threads(threads);
var report = new JsonObject { ["quick"] = quick, ["threads"] = threads, ["group_size"] = SpeculativeBench.GroupSize };

if (options.Study is { } study)
{
    Studies.Run(study, options.SharedDirectory, options.JsonPath);
    return 0;
}

Console.WriteLine($"SpecBench ({(quick ? "quick" : "full")}, {threads} threads)");
if (options.RealScale)
{
    Console.WriteLine("Real scale: " + (options.ModelDirectory ?? "a random-weight Qwen2.5-0.5B-shaped model in bf16"));
    report["real_scale"] = RealScaleBench.Run(options.ModelDirectory, quick);
    if (options.JsonPath is { } realScalePath)
    {
        AtomicFile.WriteAllText(realScalePath, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {realScalePath}");
    }
    return 0;
}
double f32 = MachineBench.MatmulGflops(512, ScalarType.Float32, quick ? 5 : 20);
double bf16 = MachineBench.MatmulGflops(512, ScalarType.BFloat16, quick ? 5 : 20);
Console.WriteLine($"matmul 512³ ceiling: f32 {f32:F0} GFLOP/s, bf16 {bf16:F0} GFLOP/s");
report["matmul_gflops"] = new JsonObject { ["f32"] = Math.Round(f32, 1), ["bf16"] = Math.Round(bf16, 1) };
var linear = MachineBench.LinearRowsMicros(quick ? 10 : 30);
Console.WriteLine("linear 192 → 576, f32: " + string.Join(", ", linear.Select(l => $"{l.Rows} row(s) {l.Micros:F1} µs ({l.Micros / linear[0].Micros:F2}x)")));
report["linear_rows_us"] = new JsonArray(linear.Select(l => (JsonNode)new JsonObject { ["rows"] = l.Rows, ["us"] = Math.Round(l.Micros, 2) }).ToArray());

var decode = new JsonArray();
using (var model = new CausalLM(TransformerPresets.EmbeddedDefault, seed: 1))
{
    foreach (int batch in new[] { 1, 8, 64 })
    {
        double tps = MachineBench.DecodeTokensPerSecond(model, batch, quick ? 32 : 128);
        Console.WriteLine($"embedded-default decode, running batch {batch,2}: {tps,8:F0} tokens/s");
        decode.Add(new JsonObject { ["batch"] = batch, ["tokens_per_s"] = Math.Round(tps, 1) });
    }
}
report["decode"] = decode;

Console.WriteLine($"Speculative vs plain on the embedded default (temperature 1, same seeds, groups of {SpeculativeBench.GroupSize} responses per prompt):");
using (var target = EmbeddedTarget.LoadOrTrain())
using (var drafter = EmbeddedDrafter.LoadOrTrain(target))
{
    var tokenizer = ChainArithmeticTextTokenizer.Instance;
    var task = new ChainArithmeticTask(new ChainArithmeticOptions { Seed = 4242, MinTerms = 6, MaxTerms = 16 });
    var prompts = task.Sample(8).Select(e => tokenizer.Encode(e.Prompt)).ToList();
    var work = new BenchWorkload(target.Model, prompts, new HashSet<int> { tokenizer.EosId!.Value }, quick ? 120 : 200, drafter);
    var (results, identical) = SpeculativeBench.Run(work, quick, only);
    report["greedy_identical"] = identical;
    report["results"] = results;
    Console.WriteLine($"greedy speculative output identical to plain: {identical}");
}

string? shared = options.SharedDirectory;
string? realModel = RealModelBench.FindModel(shared);
if (realModel is null)
{
    string reason = $"{RealModelBench.ModelName} not found " + (shared is null
        ? $"(looked for shared/models/{RealModelBench.ModelName} above the repository root; pass --shared DIR)" : $"under --shared {shared}");
    Console.WriteLine($"Skipping the real-model table: {reason}.");
    report["real_model_skipped"] = reason;
}
else
{
    Console.WriteLine($"Speculative vs plain on {realModel} (story openings, temperature 1, same seeds, groups of {SpeculativeBench.GroupSize}):");
    var (results, identical) = RealModelBench.Run(realModel, quick, only);
    report["greedy_identical"] = report["greedy_identical"]!.GetValue<bool>() && identical;
    report["real_model"] = realModel;
    report["real_model_results"] = results;
    Console.WriteLine($"greedy speculative output identical to plain: {identical}");
}

if (options.JsonPath is { } jsonPath)
{
    AtomicFile.WriteAllText(jsonPath, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine($"wrote {jsonPath}");
}

return 0;
