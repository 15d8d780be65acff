using System.Diagnostics;
using TltTrainer.Models;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Tasks;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Rl;

[Collection("embedded")]
public sealed class ZzRolloutProbe(EmbeddedFixture fixture)
{
    [Fact]
    public void Probe()
    {
        if (Environment.GetEnvironmentVariable("X_PROBE") is null) return;
        int workers = int.Parse(Environment.GetEnvironmentVariable("X_WORKERS") ?? "2");
        var policy = fixture.Target.Model;
        var tokenizer = ChainArithmeticTextTokenizer.Instance;
        var stop = new HashSet<int> { tokenizer.EosId!.Value };
        var task = new ChainArithmeticTask(new ChainArithmeticOptions { Seed = 1 });
        for (int round = 0; round < 3; round++)
        {
            var prompts = task.Sample(16);
            var requests = prompts.SelectMany((e, p) => Enumerable.Range(0, 4).Select(g => new RolloutRequest(p * 4 + g, tokenizer.Encode(e.Prompt),
                new SamplingOptions { Temperature = 1.0, MaxNewTokens = 560, StopTokens = stop, Seed = (ulong)(round * 1000 + p * 4 + g) }, p))).ToList();
            foreach (bool on in new[] { false, true })
            {
                using var stack = TltRollout.Create(policy, fixture.Drafter, new TltRolloutOptions { Enabled = on, Workers = workers, MaxSequenceLength = 1024 });
                stack.OnlineDrafter?.BeforeRollout(round);
                var clock = Stopwatch.StartNew();
                var result = stack.Rollout.Generate(requests);
                double s = clock.Elapsed.TotalSeconds;
                var idle = stack.OnlineDrafter?.AfterRollout();
                var m = result.Metrics;
                Console.WriteLine($"PROBE round {round} tlt {on}: {s:F2}s tokens {m.GeneratedTokens} max {result.Trajectories.Max(t => t.ResponseTokens.Length)} accept {m.MeanAcceptLength:F2} "
                    + $"draft {m.DraftSeconds:F2}s verify {m.VerifySeconds:F2}s prefill {m.PrefillSeconds:F2}s workers [{string.Join(", ", stack.Rollout.LastWorkerSeconds.Select(x => x.ToString("F2")))}] "
                    + $"idle {idle?.Idle.IdleWorkerSeconds:F2} train {idle?.Idle.TrainingWorkerSeconds:F2} steps {idle?.Idle.Steps}");
                if (on) Console.WriteLine("PROBE arms " + string.Join(" ", m.ArmChoices.OrderBy(k => k.Key).Select(kv => $"{kv.Key}={kv.Value}")));
            }
        }
    }
}
