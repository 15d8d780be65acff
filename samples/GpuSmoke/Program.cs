// GpuSmoke: the checks to run once on a lent GPU (scripts/gpu-smoke.sh prepares and explains the call; docs/gpu.md
// records what happened). Each check is independent and its result or exception lands in one JSON file, so one
// call always teaches something:
//   load      TorchSharp's native library (from TLT_LIBTORCHSHARP when set: a libtorch installed elsewhere), CUDA device count
//   matmul    a 1024³ float32 product on the device against the CPU's
//   cache     the cached forward of a small model against its full forward, on the device
//   greedy    greedy speculative decoding (n-gram and EAGLE drafters) token for token against plain decoding, on the device
//   sampled   coupled speculative sampling token for token against plain sampling, on the device
//   timing    plain vs speculative (oracle-free: the n-gram drafter over GRPO siblings) on a random Qwen2.5-0.5B shape in bf16
// Usage: GpuSmoke [--out FILE.json] [--cpu]   (--cpu: the checks but timing on the CPU, a dry run of the script here)
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TorchSharp;
using static TorchSharp.torch;

string outPath = args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault() ?? "gpu-smoke.json";
bool cpuOnly = args.Contains("--cpu");
var report = new JsonObject { ["started"] = DateTime.UtcNow.ToString("O") };

void Check(string name, Func<JsonNode?> body)
{
    var clock = Stopwatch.StartNew();
    try { report[name] = new JsonObject { ["ok"] = true, ["result"] = body(), ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 2) }; }
    catch (Exception e) { report[name] = new JsonObject { ["ok"] = false, ["error"] = $"{e.GetType().Name}: {e.Message}", ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 2) }; }
    Console.WriteLine($"{name}: {report[name]!.ToJsonString()}");
    File.WriteAllText(outPath, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));   // after every check
}

Device device = CPU;
Check("load", () =>
{
    if (Environment.GetEnvironmentVariable("TLT_LIBTORCHSHARP") is { Length: > 0 } native) NativeLibrary.Load(native);
    if (!cpuOnly) InitializeDeviceType(DeviceType.CUDA);
    bool cuda = !cpuOnly && torch.cuda.is_available();
    device = cuda ? CUDA : CPU;
    return new JsonObject { ["cuda"] = cuda, ["devices"] = cuda ? torch.cuda.device_count() : 0, ["device"] = device.ToString() };
});

Check("matmul", () =>
{
    using var scope = NewDisposeScope();
    var a = randn(1024, 1024); var b = randn(1024, 1024);
    var onDevice = a.to(device).matmul(b.to(device)).cpu();
    double gap = (onDevice - a.matmul(b)).abs().max().item<float>();
    return new JsonObject { ["max_abs_gap"] = gap, ["ok"] = gap < 1e-2 };
});

Check("cache", () =>
{
    using var scope = NewDisposeScope();
    using var noGrad = no_grad();
    using var model = new CausalLM(TransformerPresets.Tiny, seed: 1);
    model.to(device);
    var ids = tensor(Enumerable.Range(0, 24).Select(i => (long)(i * 5 % 60 + 3)).ToArray(), device: device).view(1, -1);
    var full = model.Forward(ids).Logits!;
    using var cache = new KvCache(model.Config, 1, 32, model.DType, device);
    model.Forward(ids.narrow(1, 0, 16), cache);
    var rest = model.Forward(ids.narrow(1, 16, 8), cache).Logits!;
    double gap = (rest - full.narrow(1, 16, 8)).abs().max().item<float>();
    return new JsonObject { ["max_abs_gap"] = gap, ["ok"] = gap < 1e-4 };
});

JsonNode Equivalence(double temperature)
{
    using var model = new CausalLM(TransformerPresets.Tiny, seed: 2);
    model.to(device);
    using var eagleModel = new EagleDraftModel(model.Config, seed: 3);
    eagleModel.to(device);
    var requests = Enumerable.Range(0, 8).Select(i => new RolloutRequest(i, new[] { 1, 2 + i, 3 },
        new SamplingOptions { Temperature = temperature, MaxNewTokens = 40, Seed = (ulong)i }, GroupId: i / 4)).ToList();
    var plain = new RolloutEngine(model).Generate(requests).Trajectories;
    var result = new JsonObject();
    using var ngram = new NGramDrafter();
    using var eagle = new EagleDrafter(model, eagleModel);
    foreach (var (name, drafter, strategy) in new (string, IDrafter, SpecStrategy)[]
        { ("ngram-chain", ngram, SpecStrategy.ChainOf(4)), ("eagle-chain", eagle, SpecStrategy.ChainOf(4)), ("eagle-tree", eagle, SpecStrategy.TreeOf(3, 3, 8)) })
    {
        var spec = new RolloutEngine(model, new RolloutEngineOptions { Drafter = drafter, Strategy = strategy }).Generate(requests);
        result[name] = spec.Trajectories.Zip(plain).All(p => p.First.ResponseTokens.SequenceEqual(p.Second.ResponseTokens));
    }
    return result;
}
Check("greedy", () => Equivalence(0));
Check("sampled", () => Equivalence(1.0));

if (!cpuOnly) Check("timing", () =>
{
    using var model = new CausalLM(TransformerPresets.Qwen25_0_5B, seed: 7);
    model.to(ScalarType.BFloat16).to(device);
    var rows = new JsonArray();
    foreach (int batch in new[] { 1, 8, 32 })
    {
        var random = new Random(batch);
        var requests = Enumerable.Range(0, batch).Select(i => new RolloutRequest(i, Enumerable.Range(0, 16).Select(_ => random.Next(model.Config.VocabSize)).ToArray(),
            new SamplingOptions { Temperature = 1.0, MaxNewTokens = 64, Seed = (ulong)i }, GroupId: i / 4)).ToList();
        double Seconds(RolloutEngine engine)
        {
            engine.Generate(requests.Take(1).ToList());
            if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
            var clock = Stopwatch.StartNew();
            engine.Generate(requests);
            if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
            return clock.Elapsed.TotalSeconds;
        }
        using var ngram = new NGramDrafter();
        double plain = Seconds(new RolloutEngine(model, new RolloutEngineOptions { MaxRunningBatch = batch }));
        double spec = Seconds(new RolloutEngine(model, new RolloutEngineOptions { MaxRunningBatch = batch, Drafter = ngram, Strategy = SpecStrategy.ChainOf(4) }));
        rows.Add(new JsonObject { ["batch"] = batch, ["plain_s"] = Math.Round(plain, 3), ["ngram_s"] = Math.Round(spec, 3), ["ratio"] = Math.Round(plain / spec, 3) });
    }
    return rows;
});
report["finished"] = DateTime.UtcNow.ToString("O");
File.WriteAllText(outPath, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
return report.AsObject().Where(kv => kv.Value is JsonObject o && o["ok"] is { } ok).All(kv => kv.Value!["ok"]!.GetValue<bool>()) ? 0 : 1;
