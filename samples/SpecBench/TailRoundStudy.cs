// What a speculative round costs where the RL job spends its tail: the Quickstart job's first 64 requests (16 prompts × 4,
// temperature 1, 560 new tokens) are generated plainly once, and their 4 longest are then generated at running batch 4
// (shrinking to 1 as they finish), plainly and with the warm EAGLE drafter's coupled chain, alternately, three times
// each, on the caller's threads (run it with --threads 1, as a rollout worker decodes). Each row reports per decode
// step (plain) and per round (speculative) the milliseconds spent drafting and verifying (RolloutMetrics), the mean
// accepted length, and speculative over plain time of the same run pair; the tokens are the same in both (coupled
// drafting, checked).
using System.Text.Json.Nodes;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tasks;

namespace SpecBench;

internal static class TailRoundStudy
{
    /// <summary>Chain depth measured (the TLT stack's default <c>EagleDepth</c>).</summary>
    public const int Depth = 6;

    public static JsonObject Run()
    {
        using var target = EmbeddedTarget.LoadOrTrain();
        using var warm = EmbeddedDrafter.LoadOrTrain(target);
        var tokenizer = ChainArithmeticTextTokenizer.Instance;
        var stop = new HashSet<int> { tokenizer.EosId!.Value };
        // The Quickstart job's prompt stream (seed 1) and its first step's requests.
        var prompts = new ChainArithmeticTask(new ChainArithmeticOptions { Seed = 1 }).Sample(16).Select(e => tokenizer.Encode(e.Prompt)).ToList();
        var all = Enumerable.Range(0, 64).Select(i => new RolloutRequest(i, prompts[i / 4],
            new SamplingOptions { Temperature = 1.0, MaxNewTokens = 560, StopTokens = stop, Seed = (ulong)i }, GroupId: i / 4)).ToList();
        var lengths = new RolloutEngine(target.Model, new RolloutEngineOptions { MaxRunningBatch = 64 }).Generate(all).Trajectories
            .Select(t => t.ResponseTokens.Length).ToArray();
        var longest = Enumerable.Range(0, 64).OrderByDescending(i => lengths[i]).ThenBy(i => i).Take(4).Select(i => all[i]).ToList();
        Console.WriteLine($"tail requests: responses of {string.Join(", ", longest.Select(r => lengths[r.Id]))} tokens (of 64 with median {lengths.Order().ElementAt(32)})");

        var plain = new RolloutEngine(target.Model, new RolloutEngineOptions { MaxRunningBatch = 4 });
        using var eagle = new EagleDrafter(target.Model, warm);
        var speculative = new RolloutEngine(target.Model, new RolloutEngineOptions { MaxRunningBatch = 4, Drafter = eagle, Strategy = SpecStrategy.ChainOf(Depth) });
        var reference = plain.Generate(longest).Trajectories;                                     // warm-up, and the tokens to match
        bool same = speculative.Generate(longest).Trajectories.Zip(reference).All(p => p.First.ResponseTokens.SequenceEqual(p.Second.ResponseTokens));
        var runs = new JsonArray();
        for (int k = 0; k < 3; k++)
        {
            var p = plain.Generate(longest).Metrics;
            var s = speculative.Generate(longest).Metrics;
            double plainStep = 1000 * p.TotalSeconds / p.DecodeSteps, draft = 1000 * s.DraftSeconds / s.DecodeSteps, verify = 1000 * s.VerifySeconds / s.DecodeSteps;
            Console.WriteLine($"  run {k}: plain {plainStep:F2} ms per step; chain-d{Depth} {1000 * s.TotalSeconds / s.DecodeSteps:F2} ms per round "
                + $"(drafting {draft:F2}, verifying {verify:F2}), accepted {s.MeanAcceptLength:F2}, speedup {p.TotalSeconds / s.TotalSeconds:F2}x");
            runs.Add(new JsonObject
            {
                ["plain_ms_per_step"] = Math.Round(plainStep, 3), ["round_ms"] = Math.Round(1000 * s.TotalSeconds / s.DecodeSteps, 3),
                ["draft_ms_per_round"] = Math.Round(draft, 3), ["verify_ms_per_round"] = Math.Round(verify, 3),
                ["accept_len"] = Math.Round(s.MeanAcceptLength, 3), ["speedup"] = Math.Round(p.TotalSeconds / s.TotalSeconds, 3),
            });
        }
        Console.WriteLine($"  speculative tokens equal plain: {same}");
        return new JsonObject
        {
            ["requests"] = new JsonArray(longest.Select(r => (JsonNode)lengths[r.Id]).ToArray()), ["depth"] = Depth,
            ["tokens_equal_plain"] = same, ["runs"] = runs,
        };
    }
}
