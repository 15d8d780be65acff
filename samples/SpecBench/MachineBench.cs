// Machine ceilings measured in the same run as everything else, so ratios stay meaningful on shared machines.
using System.Diagnostics;
using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TorchSharp;
using static TorchSharp.torch;

internal static class MachineBench
{
    /// <summary>Best-of-n GFLOP/s of an n×n×n matmul in <paramref name="dtype"/>.</summary>
    public static double MatmulGflops(int n, ScalarType dtype, int repeats)
    {
        using var a32 = randn(n, n);              // bound, not chained: an unreferenced temporary may be finalized mid-call
        using var b32 = randn(n, n);
        using var a = a32.to(dtype);
        using var b = b32.to(dtype);
        using (a.matmul(b)) { }
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            using (a.matmul(b)) { }
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * n / best / 1e9;
    }

    /// <summary>
    /// Best-of-<paramref name="repeats"/> microseconds of a linear layer of the embedded default's widest shape (192 → 576,
    /// float32) over 1, 2, 6 and 8 rows, measured interleaved: how much a forward over several tokens (verification)
    /// costs against one (decode) in the matrix products alone.
    /// </summary>
    public static IReadOnlyList<(int Rows, double Micros)> LinearRowsMicros(int repeats)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var weight = randn(576, 192);
        int[] rows = { 1, 2, 6, 8 };
        var inputs = rows.Select(r => randn(r, 192)).ToArray();
        var best = Enumerable.Repeat(double.MaxValue, rows.Length).ToArray();
        for (int round = 0; round < repeats; round++)
            for (int i = 0; i < rows.Length; i++)
            {
                const int Calls = 200;
                var clock = Stopwatch.StartNew();
                for (int c = 0; c < Calls; c++) nn.functional.linear(inputs[i], weight).Dispose();
                best[i] = Math.Min(best[i], clock.Elapsed.TotalMilliseconds * 1000 / Calls);
            }
        return rows.Select((r, i) => (r, best[i])).ToList();
    }

    /// <summary>Plain decode tokens/s at running batch <paramref name="batch"/>: prefill, then <paramref name="steps"/> decode steps.</summary>
    public static double DecodeTokensPerSecond(CausalLM model, int batch, int steps)
    {
        using var noGrad = no_grad();
        var requests = Enumerable.Range(0, batch).Select(i => new RolloutRequest(i, new[] { 1, 2 + i % 7, 3 },
            new SamplingOptions { Temperature = 1, MaxNewTokens = steps, Seed = (ulong)i })).ToList();
        var engine = new RolloutEngine(model, new RolloutEngineOptions { MaxRunningBatch = batch, MaxSequenceLength = steps + 8 });
        engine.Generate(requests.Take(1).Select(r => r with { Sampling = r.Sampling with { MaxNewTokens = 4 } }).ToList());   // warm-up
        var metrics = engine.Generate(requests).Metrics;
        return (metrics.GeneratedTokens - batch) / metrics.VerifySeconds;      // decode phase only (first token comes from prefill)
    }
}
