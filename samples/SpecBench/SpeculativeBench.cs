// Speculative vs plain decoding on the embedded default, side by side in one run: for each drafter and
// running batch, the same requests (same seeds, temperature 1) are generated plainly and speculatively;
// speedup = speculative tokens/s ÷ plain tokens/s measured back to back. For chains, α is solved from the
// measured mean accepted length E = (1 − α^(γ+1)) / (1 − α), and the Leviathan bound is
// E / (γ·c + 1) with c the measured cost of one drafter step relative to one plain decode step.
using System.Text.Json.Nodes;
using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Speculative;
using TltTrainer.Tasks;

internal static class SpeculativeBench
{
    public static (JsonArray Results, bool GreedyIdentical) Run(EmbeddedTarget target, EagleDraftModel trained, bool quick)
    {
        var model = target.Model;
        var tokenizer = ChainArithmeticTextTokenizer.Instance;
        var stop = new HashSet<int> { tokenizer.EosId!.Value };
        var task = new ChainArithmeticTask(new ChainArithmeticOptions { Seed = 4242, MinTerms = 6, MaxTerms = 16 });
        var results = new JsonArray();
        bool identical = true;
        using var untrained = new EagleDraftModel(model.Config, seed: 1);
        foreach (int batch in new[] { 1, 4, 32 })
        {
            var prompts = task.Sample(batch);
            List<RolloutRequest> Requests(SamplingOptions s) => prompts.Select((e, i) => new RolloutRequest(i, tokenizer.Encode(e.Prompt), s with { Seed = (ulong)i }, GroupId: i / 4)).ToList();
            var sampled = Requests(new SamplingOptions { Temperature = 1.0, MaxNewTokens = quick ? 120 : 200, StopTokens = stop });
            var greedy = Requests(SamplingOptions.Greedy(quick ? 120 : 200, stop));
            var plainEngine = new RolloutEngine(model, new RolloutEngineOptions { MaxRunningBatch = batch });
            plainEngine.Generate(sampled.Take(1).ToList());                                   // warm-up
            var plain = plainEngine.Generate(sampled);
            var plainGreedy = plainEngine.Generate(greedy).Trajectories;
            double plainTps = plain.Metrics.GeneratedTokens / plain.Metrics.TotalSeconds;
            double plainStep = plain.Metrics.VerifySeconds / Math.Max(1, plain.Metrics.DecodeSteps);
            results.Add(Row("plain", "-", batch, plainTps, 1.0, 1.0, null, null, null));
            foreach (var (name, strategy) in Cases(quick))
            {
                using IDrafter drafter = name switch
                {
                    "ngram" => new NGramDrafter(),
                    "eagle-untrained" => new EagleDrafter(model, untrained),
                    _ => new EagleDrafter(model, trained),
                };
                if (name == "ngram" && strategy.Shape == DraftShape.Tree) continue;
                var engine = new RolloutEngine(model, new RolloutEngineOptions { MaxRunningBatch = batch, Drafter = drafter, Strategy = strategy });
                engine.Generate(sampled.Take(1).ToList());
                var spec = engine.Generate(sampled);
                identical &= engine.Generate(greedy).Trajectories.Zip(plainGreedy).All(p => p.First.ResponseTokens.SequenceEqual(p.Second.ResponseTokens));
                double tps = spec.Metrics.GeneratedTokens / spec.Metrics.TotalSeconds;
                double e = spec.Metrics.MeanAcceptLength;
                int gamma = strategy.Depth;
                double? cost = null, alpha = null, bound = null;
                if (strategy.Shape == DraftShape.Chain && spec.Metrics.SpeculativeSteps > 0)
                {
                    cost = spec.Metrics.DraftSeconds / spec.Metrics.SpeculativeSteps / gamma / plainStep;
                    alpha = SolveAlpha(e, gamma);
                    bound = e / (gamma * cost.Value + 1);
                }
                results.Add(Row(name, strategy.ToString(), batch, tps, tps / plainTps, e, alpha, cost, bound));
                Console.WriteLine($"  batch {batch,2} {name,-16} {strategy,-14} {tps,8:F0} tok/s  {tps / plainTps,5:F2}x  accept {e:F2}"
                    + (bound is null ? "" : $"  α {alpha:F2}  c {cost:F2}  bound {bound:F2}x"));
            }
        }
        return (results, identical);
    }

    private static IEnumerable<(string Name, SpecStrategy Strategy)> Cases(bool quick)
    {
        yield return ("ngram", SpecStrategy.ChainOf(4, sample: false));
        yield return ("eagle-untrained", SpecStrategy.ChainOf(5, sample: false));
        yield return ("eagle-trained", SpecStrategy.ChainOf(5, sample: false));
        if (!quick) yield return ("eagle-trained", SpecStrategy.ChainOf(8, sample: false));
        yield return ("eagle-trained", SpecStrategy.TreeOf(6, 3, 16));
    }

    /// <summary>α with (1 − α^(γ+1)) / (1 − α) = E, by bisection (E in [1, γ + 1]).</summary>
    private static double SolveAlpha(double e, int gamma)
    {
        double lo = 0, hi = 1 - 1e-9;
        for (int i = 0; i < 100; i++)
        {
            double mid = 0.5 * (lo + hi);
            double value = (1 - Math.Pow(mid, gamma + 1)) / (1 - mid);
            if (value < e) lo = mid; else hi = mid;
        }
        return 0.5 * (lo + hi);
    }

    private static JsonObject Row(string drafter, string shape, int batch, double tps, double speedup, double accept, double? alpha, double? cost, double? bound) => new()
    {
        ["drafter"] = drafter, ["shape"] = shape, ["batch"] = batch, ["tokens_per_s"] = Math.Round(tps, 1),
        ["speedup_vs_plain"] = Math.Round(speedup, 3), ["mean_accept_len"] = Math.Round(accept, 3),
        ["alpha"] = alpha is null ? null : Math.Round(alpha.Value, 3), ["draft_cost_ratio"] = cost is null ? null : Math.Round(cost.Value, 3),
        ["leviathan_bound"] = bound is null ? null : Math.Round(bound.Value, 3),
    };
}
