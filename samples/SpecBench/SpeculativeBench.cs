// Speculative vs plain decoding side by side in one run, for any target: for each drafter and running
// batch, the same requests (same seeds, temperature 1) are generated plainly and speculatively, and
// speedup = speculative tokens/s ÷ plain tokens/s, each the fastest of a few runs interleaved with the
// other (the plain row shows plain's fastest run of the batch). Requests are GRPO groups: G = 4 responses per prompt (same prompt, different seeds, one
// GroupId), max(1, batch/4) prompts, so the running batch is full, and at batch 1 later siblings decode
// after earlier ones finished (the long tail). For chains, α is solved from the mean accepted length
// E = (1 − α^(γ+1)) / (1 − α) of the rounds that drafted, c is the drafting time per decode step and
// drafted position (γ of them) relative to one plain decode step, and the Leviathan bound E / (γ·c + 1) is taken over all decode-phase forwards:
// E becomes a row's tokens per target forward and γ·c the drafting cost per forward, which differ from
// the textbook values only for drafters that sometimes propose nothing (n-gram without a match). The trained
// chain also runs with each draft proposal (coupled, argmax, rejection) to show what reproducibility costs in
// acceptance at temperature 1, and every row says whether its sampled tokens equal plain sampling's.
using System.Text.Json.Nodes;
using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tlt;

/// <summary>What one speculative table is measured on.</summary>
/// <param name="Model">The target.</param>
/// <param name="Prompts">Prompt token ids; cycled when a batch needs more prompts than given.</param>
/// <param name="Stop">Stop tokens.</param>
/// <param name="MaxNewTokens">Response budget per request.</param>
/// <param name="Trained">The trained EAGLE drafter of <paramref name="Model"/>.</param>
internal sealed record BenchWorkload(CausalLM Model, IReadOnlyList<IReadOnlyList<int>> Prompts, IReadOnlySet<int> Stop, int MaxNewTokens, EagleDraftModel Trained);

internal static class SpeculativeBench
{
    /// <summary>Responses per prompt (the GRPO group size).</summary>
    public const int GroupSize = 4;

    /// <summary>The drafters measured beside plain decoding (the names --only accepts).</summary>
    public static IReadOnlyList<string> DrafterNames { get; } = ["ngram", "eagle-untrained", "eagle-trained", "adaptive"];

    /// <param name="only">The drafters to measure (of <see cref="DrafterNames"/>), or null for all.</param>
    public static (JsonArray Results, bool GreedyIdentical) Run(BenchWorkload work, bool quick, IReadOnlyCollection<string>? only = null)
    {
        var model = work.Model;
        int repeats = quick ? 2 : 3;
        var results = new JsonArray();
        bool identical = true;
        using var untrained = new EagleDraftModel(model.Config, seed: 1);
        foreach (int batch in new[] { 1, 4, 32 })
        {
            var sampled = Requests(work, batch, new SamplingOptions { Temperature = 1.0, MaxNewTokens = work.MaxNewTokens, StopTokens = work.Stop });
            var greedy = Requests(work, batch, SamplingOptions.Greedy(work.MaxNewTokens, work.Stop));
            var plainEngine = new RolloutEngine(model, new RolloutEngineOptions { MaxRunningBatch = batch });
            plainEngine.Generate(sampled.Take(1).ToList());                                   // warm-up
            var plainGreedy = plainEngine.Generate(greedy).Trajectories;
            var plain = plainEngine.Generate(sampled);
            // Each case runs `repeats` times interleaved with as many plain runs, and its speedup is over those plain runs:
            // the fastest of each counts (other processes on shared cores only ever slow a run down).
            var measured = new List<(string Name, SpecStrategy Strategy, RolloutResult Spec, RolloutResult Plain, bool SamePlain)>();
            foreach (var (name, strategy) in Cases(quick))
            {
                if (only is not null && !only.Contains(name)) continue;
                using IDrafter drafter = name switch
                {
                    "ngram" => new NGramDrafter(),
                    "eagle-untrained" => new EagleDrafter(model, untrained),
                    _ => new EagleDrafter(model, work.Trained),
                };
                using var adaptiveNgram = name == "adaptive" ? new NGramDrafter() : null;
                var engine = new RolloutEngine(model, name == "adaptive"
                    ? new RolloutEngineOptions { MaxRunningBatch = batch, Adaptive = Adaptive(drafter, adaptiveNgram!) }
                    : new RolloutEngineOptions { MaxRunningBatch = batch, Drafter = drafter, Strategy = strategy });
                engine.Generate(sampled.Take(1).ToList());
                identical &= engine.Generate(greedy).Trajectories.Zip(plainGreedy).All(p => p.First.ResponseTokens.SequenceEqual(p.Second.ResponseTokens));
                bool samePlain = engine.Generate(sampled).Trajectories.Zip(plain.Trajectories).All(p => p.First.ResponseTokens.SequenceEqual(p.Second.ResponseTokens));
                RolloutResult? best = null, pairedPlain = null;
                for (int i = 0; i < repeats; i++)
                {
                    pairedPlain = Faster(pairedPlain, plainEngine.Generate(sampled));
                    best = Faster(best, engine.Generate(sampled));
                }
                plain = Faster(plain, pairedPlain!);
                measured.Add((name, strategy, best!, pairedPlain!, samePlain));
            }

            results.Add(Row("plain", "-", batch, TokensPerSecond(plain), 1.0, 1.0, null, null, null));
            Console.WriteLine($"  batch {batch,2} {"plain",-16} {"-",-14} {TokensPerSecond(plain),8:F0} tok/s  ({sampled.Count} requests, {plain.Metrics.GeneratedTokens} tokens)");
            foreach (var (name, strategy, spec, pairedPlain, samePlain) in measured)
            {
                var m = spec.Metrics;
                double tps = TokensPerSecond(spec), speedup = tps / TokensPerSecond(pairedPlain);
                double e = m.MeanAcceptLength;
                int gamma = strategy.Depth;
                double? cost = null, alpha = null, bound = null, verifyCost = null, verifyBound = null;
                // Where a round's time goes: one plain decode step against a speculative step's drafting and verification.
                double plainStep = pairedPlain.Metrics.VerifySeconds / Math.Max(1, pairedPlain.Metrics.DecodeSteps);
                double draftPerStep = m.DraftSeconds / Math.Max(1, m.DecodeSteps), verifyPerStep = m.VerifySeconds / Math.Max(1, m.DecodeSteps);
                if (name != "adaptive" && strategy.Shape == DraftShape.Chain && m.SpeculativeSteps > 0)
                {
                    // Every decode step asks the drafter (an empty draft falls back to a plain step).
                    cost = m.DraftSeconds / m.DecodeSteps / gamma / plainStep;
                    alpha = SolveAlpha(e, gamma);
                    // Per row: decode-phase tokens (the first comes from prefill) over the target forwards that row took part in.
                    double perForward = (m.GeneratedTokens - sampled.Count) / (double)spec.Trajectories.Sum(t => t.VerifyRounds);
                    bound = perForward / (gamma * cost.Value + 1);
                    // The Leviathan bound prices verification at one plain step; on this CPU a forward over γ + 1 tokens
                    // costs more (small-M GEMMs instead of GEMVs), so also give the bound at the measured verification cost v.
                    verifyCost = verifyPerStep / plainStep;
                    verifyBound = perForward / (gamma * cost.Value + verifyCost.Value);
                }
                string shape = name == "adaptive" ? "bandit" : strategy.ToString();
                var row = Row(name, shape, batch, tps, speedup, e, alpha, cost, bound);
                row["tokens_equal_plain"] = samePlain;                  // temperature 1, same seeds: coupled and argmax must be, rejection need not
                row["verify_cost_ratio"] = verifyCost is null ? null : Math.Round(verifyCost.Value, 3);
                row["bound_at_measured_verify"] = verifyBound is null ? null : Math.Round(verifyBound.Value, 3);
                row["step_ms"] = new JsonObject
                {
                    ["plain"] = Math.Round(plainStep * 1000, 3), ["draft"] = Math.Round(draftPerStep * 1000, 3), ["verify"] = Math.Round(verifyPerStep * 1000, 3),
                };
                results.Add(row);
                Console.WriteLine($"  batch {batch,2} {name,-16} {shape,-20} {tps,8:F0} tok/s  {speedup,5:F2}x  accept {e:F2}{(samePlain ? "" : " (tokens differ from plain)")}"
                    + (bound is null ? "" : $"  α {alpha:F2}  c {cost:F2}  bound {bound:F2}x  v {verifyCost:F2}  bound at v {verifyBound:F2}x")
                    + $"  ms/step: plain {plainStep * 1000:F2}, draft {draftPerStep * 1000:F2} + verify {verifyPerStep * 1000:F2}");
            }
        }
        return (results, identical);
    }

    /// <summary>
    /// The adaptive engine as the RL stack runs it (TltRollout's arms minus the tree, threshold 16, patience 5):
    /// at running batch 32 it must cost almost nothing over plain decoding (target ≥ 0.97x).
    /// </summary>
    private static AdaptiveSpeculation Adaptive(IDrafter eagle, IDrafter ngram) => new(new AdaptiveSpeculationOptions
    {
        Arms = new[] { SpeculationArm.None, SpeculationArm.Of(eagle, SpecStrategy.ChainOf(5)), SpeculationArm.Of(ngram, SpecStrategy.ChainOf(8)) },
        BatchThreshold = 16, Patience = 5, Seed = 1,
    });

    private static double TokensPerSecond(RolloutResult r) => r.Metrics.GeneratedTokens / r.Metrics.TotalSeconds;

    private static RolloutResult Faster(RolloutResult? a, RolloutResult b) => a is null || b.Metrics.TotalSeconds < a.Metrics.TotalSeconds ? b : a;

    /// <summary>max(1, batch / G) prompts × G responses each: same prompt, distinct seeds, one GroupId per prompt.</summary>
    private static List<RolloutRequest> Requests(BenchWorkload work, int batch, SamplingOptions sampling)
    {
        int groups = Math.Max(1, batch / GroupSize);
        return Enumerable.Range(0, groups * GroupSize).Select(i => new RolloutRequest(i, work.Prompts[i / GroupSize % work.Prompts.Count],
            sampling with { Seed = (ulong)i }, GroupId: i / GroupSize)).ToList();
    }

    private static IEnumerable<(string Name, SpecStrategy Strategy)> Cases(bool quick)
    {
        if (!quick) yield return ("ngram", SpecStrategy.ChainOf(4));
        if (!quick) yield return ("ngram", SpecStrategy.ChainOf(6));
        yield return ("ngram", SpecStrategy.ChainOf(8));
        yield return ("eagle-untrained", SpecStrategy.ChainOf(5));
        yield return ("eagle-trained", SpecStrategy.ChainOf(5));
        // The same chain with the other two proposals: coupled (above) keeps the output equal to plain sampling, as argmax
        // does with less acceptance at temperature 1; rejection accepts Σ min(p, q) but its tokens depend on the drafter.
        yield return ("eagle-trained", SpecStrategy.ChainOf(5, DraftProposal.Argmax));
        yield return ("eagle-trained", SpecStrategy.ChainOf(5, DraftProposal.Rejection));
        yield return ("eagle-trained", SpecStrategy.ChainOf(7));
        if (!quick) yield return ("eagle-trained", SpecStrategy.ChainOf(8));
        yield return ("eagle-trained", SpecStrategy.TreeOf(6, 3, 16));
        if (!quick) yield return ("eagle-trained", SpecStrategy.TreeOf(6, 3, 16, DraftProposal.Argmax));
        yield return ("adaptive", SpecStrategy.ChainOf(5));        // arms and shape chosen by the bandit
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
