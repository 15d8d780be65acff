// SpecBench: decode throughput, and speculative vs plain decoding side by side in one run.
// Usage: dotnet run -c Release --project samples/SpecBench -- [--quick] [--json FILE] [--threads N]
using System.Text.Json;
using System.Text.Json.Nodes;
using TltTrainer.Models;
using TorchSharp;
using static TorchSharp.torch;

bool quick = args.Contains("--quick");
string? jsonPath = ArgValue("--json");
int threads = int.TryParse(ArgValue("--threads"), out var t) ? t : Environment.ProcessorCount;
torch.set_num_threads(threads);
var report = new JsonObject { ["quick"] = quick, ["threads"] = threads };

Console.WriteLine($"SpecBench ({(quick ? "quick" : "full")}, {threads} threads)");
double f32 = MachineBench.MatmulGflops(512, ScalarType.Float32, quick ? 5 : 20);
double bf16 = MachineBench.MatmulGflops(512, ScalarType.BFloat16, quick ? 5 : 20);
Console.WriteLine($"matmul 512³ ceiling: f32 {f32:F0} GFLOP/s, bf16 {bf16:F0} GFLOP/s");
report["matmul_gflops"] = new JsonObject { ["f32"] = Math.Round(f32, 1), ["bf16"] = Math.Round(bf16, 1) };

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

Console.WriteLine("Speculative vs plain on the embedded default (temperature 1, same seeds):");
using (var target = TltTrainer.Tasks.EmbeddedTarget.LoadOrTrain())
using (var drafter = TltTrainer.Tasks.EmbeddedDrafter.LoadOrTrain(target))
{
    var (results, identical) = SpeculativeBench.Run(target, drafter, quick);
    report["greedy_identical"] = identical;
    report["results"] = results;
    Console.WriteLine($"greedy speculative output identical to plain: {identical}");
}

if (jsonPath is not null)
{
    File.WriteAllText(jsonPath, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine($"wrote {jsonPath}");
}

string? ArgValue(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
