// SpecBench --real-scale: speculative decoding at the shape users bring, a Qwen2.5-0.5B-shaped model (152 k vocabulary,
// 24 layers) with random weights in bf16, or a local HF folder (--model). For running batch 1, 4 and 16: the plain
// decode step, what sampling costs on top of greedy (T = 1 with top-p 0.95, with top-k 50), and the verification cost
// ratio v of a forward over 4 and 6 tokens per row (with its batched draws) against one. Then an oracle drafter that
// proposes the known continuation (from a plain greedy run of the same requests) with per-token probability α and a
// wrong token otherwise, so that speculation is measured apart from any drafter's quality: achieved speedup against
// the bound E(α, γ) / (γ·c + v) at the measured v and drafting cost c, and their ratio, the efficiency of the engine's
// own machinery. And the EAGLE drafter's cost per drafted token with the whole 152 k head against a reduced draft
// vocabulary. Random weights give near-flat distributions: acceptance of a trained drafter is measured on
// TinyStories-656K in the main tables, not here.
using System.Diagnostics;
using System.Text.Json.Nodes;
using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Speculative;
using TorchSharp;
using static TorchSharp.torch;

internal static class RealScaleBench
{
    private const int PromptTokens = 16;

    public static JsonObject Run(string? modelDir, bool quick)
    {
        using var model = modelDir is null ? RandomQwen() : HfCheckpoint.Load(modelDir, ScalarType.BFloat16);
        model.eval();
        int newTokens = quick ? 24 : 48;
        var report = new JsonObject
        {
            ["model"] = modelDir ?? "random-weight Qwen2.5-0.5B shape", ["dtype"] = model.DType.ToString(), ["vocab"] = model.Config.VocabSize,
            ["parameters"] = model.parameters().Sum(p => p.numel()), ["new_tokens"] = newTokens,
        };
        var batches = new JsonArray();
        var verifyCost = new Dictionary<(int Batch, int Width), double>();
        foreach (int batch in new[] { 1, 4, 16 })
        {
            var greedy = Requests(model, batch, newTokens, new SamplingOptions { Temperature = 0 });
            double greedyStep = StepSeconds(model, greedy);
            double topP = StepSeconds(model, Requests(model, batch, newTokens, new SamplingOptions { Temperature = 1.0, TopP = 0.95 }));
            double topK = StepSeconds(model, Requests(model, batch, newTokens, new SamplingOptions { Temperature = 1.0, TopK = 50 }));
            var row = new JsonObject
            {
                ["batch"] = batch, ["plain_step_ms"] = Math.Round(greedyStep * 1000, 2),
                ["sampling_overhead_top_p"] = Math.Round(topP / greedyStep - 1, 3), ["sampling_overhead_top_k"] = Math.Round(topK / greedyStep - 1, 3),
            };
            row["sampling_overhead"] = Math.Max(row["sampling_overhead_top_p"]!.GetValue<double>(), row["sampling_overhead_top_k"]!.GetValue<double>());
            foreach (int width in new[] { 4, 6 })
            {
                verifyCost[(batch, width)] = VerifyStepSeconds(model, greedy, width) / greedyStep;
                row[$"verify_cost_ratio_{width}"] = Math.Round(verifyCost[(batch, width)], 3);
            }
            Console.WriteLine($"  batch {batch,2}: plain step {greedyStep * 1000:F1} ms, sampling overhead top-p {row["sampling_overhead_top_p"]}, top-k {row["sampling_overhead_top_k"]}, "
                + $"v(4) {verifyCost[(batch, 4)]:F2}, v(6) {verifyCost[(batch, 6)]:F2}");
            batches.Add(row);
        }
        report["batches"] = batches;
        var (oracle, identical) = Oracle(model, newTokens, quick);
        report["oracle"] = oracle;
        report["greedy_identical"] = identical;
        report["draft_vocabulary"] = ReducedHead(model, quick);
        return report;
    }

    private static CausalLM RandomQwen()
    {
        var model = new CausalLM(TransformerPresets.Qwen25_0_5B, seed: 7);
        model.to(ScalarType.BFloat16);
        return model;
    }

    private static List<RolloutRequest> Requests(CausalLM model, int batch, int newTokens, SamplingOptions sampling)
    {
        var random = new Random(batch);
        return Enumerable.Range(0, batch).Select(i => new RolloutRequest(i, Enumerable.Range(0, PromptTokens).Select(_ => random.Next(model.Config.VocabSize)).ToArray(),
            sampling with { MaxNewTokens = newTokens, Seed = (ulong)(1000 + i) })).ToList();
    }

    /// <summary>Best of two runs: decode-phase seconds per step (target forward and draws) of a plain rollout.</summary>
    private static double StepSeconds(CausalLM model, List<RolloutRequest> requests)
    {
        var engine = new RolloutEngine(model, new RolloutEngineOptions { MaxRunningBatch = requests.Count, MaxSequenceLength = PromptTokens + requests[0].Sampling.MaxNewTokens + 8 });
        double best = double.MaxValue;
        for (int i = 0; i < 2; i++)
        {
            var m = engine.Generate(requests).Metrics;
            best = Math.Min(best, m.VerifySeconds / Math.Max(1, m.DecodeSteps));
        }
        return best;
    }

    /// <summary>
    /// Seconds per verification step of a rollout whose drafter proposes <paramref name="width"/> − 1 tokens that are never
    /// right: every step is a forward over <paramref name="width"/> tokens per row with its draws and the verifier's walk.
    /// </summary>
    private static double VerifyStepSeconds(CausalLM model, List<RolloutRequest> requests, int width)
    {
        using var drafter = new OracleDrafter(requests, requests.Select(r => new Trajectory(r.Id, r.GroupId, r.PromptTokens.ToArray(),
            Enumerable.Repeat(0, r.Sampling.MaxNewTokens).ToArray(), new float[r.Sampling.MaxNewTokens], FinishReason.Length, 0, 0, 0)).ToList(), alpha: 0, model.Config.VocabSize,
            wrongAlways: true);
        var engine = new RolloutEngine(model, new RolloutEngineOptions
        {
            MaxRunningBatch = requests.Count, MaxSequenceLength = PromptTokens + requests[0].Sampling.MaxNewTokens + 8, Drafter = drafter,
            Strategy = SpecStrategy.ChainOf(width - 1),
        });
        double best = double.MaxValue;
        for (int i = 0; i < 2; i++)
        {
            var m = engine.Generate(requests).Metrics;
            best = Math.Min(best, m.VerifySeconds / Math.Max(1, m.SpeculativeSteps));
        }
        return best;
    }

    private static (JsonArray Rows, bool Identical) Oracle(CausalLM model, int newTokens, bool quick)
    {
        var rows = new JsonArray();
        bool identical = true;
        foreach (int batch in new[] { 1, 4 })
        {
            var requests = Requests(model, batch, newTokens, new SamplingOptions { Temperature = 0 });
            var plainEngine = new RolloutEngine(model, new RolloutEngineOptions { MaxRunningBatch = batch, MaxSequenceLength = PromptTokens + newTokens + 8 });
            var reference = plainEngine.Generate(requests);
            double plainSeconds = Math.Min(reference.Metrics.TotalSeconds, plainEngine.Generate(requests).Metrics.TotalSeconds);
            double plainStep = reference.Metrics.VerifySeconds / Math.Max(1, reference.Metrics.DecodeSteps);
            foreach (int depth in new[] { 4, 6 })
                foreach (double alpha in quick ? new[] { 0.8 } : new[] { 0.6, 0.8, 0.9 })
                {
                    using var drafter = new OracleDrafter(requests, reference.Trajectories, alpha, model.Config.VocabSize);
                    var engine = new RolloutEngine(model, new RolloutEngineOptions
                    {
                        MaxRunningBatch = batch, MaxSequenceLength = PromptTokens + newTokens + 8, Drafter = drafter, Strategy = SpecStrategy.ChainOf(depth),
                    });
                    var first = engine.Generate(requests);
                    var second = engine.Generate(requests);
                    var spec = first.Metrics.TotalSeconds <= second.Metrics.TotalSeconds ? first : second;
                    identical &= spec.Trajectories.Zip(reference.Trajectories).All(p => p.First.ResponseTokens.SequenceEqual(p.Second.ResponseTokens));
                    var m = spec.Metrics;
                    double achieved = plainSeconds / m.TotalSeconds;
                    double expected = (1 - Math.Pow(alpha, depth + 1)) / (1 - alpha);
                    double c = m.DraftSeconds / Math.Max(1, m.DecodeSteps) / depth / plainStep;
                    double v = m.VerifySeconds / Math.Max(1, m.DecodeSteps) / plainStep;                  // measured in this run
                    double bound = expected / (depth * c + v);
                    rows.Add(new JsonObject
                    {
                        ["batch"] = batch, ["depth"] = depth, ["alpha"] = alpha, ["mean_accept_len"] = Math.Round(m.MeanAcceptLength, 3),
                        ["expected_accept_len"] = Math.Round(expected, 3), ["verify_cost_ratio"] = Math.Round(v, 3), ["draft_cost_ratio"] = Math.Round(c, 4),
                        ["achieved_speedup"] = Math.Round(achieved, 3), ["bound_at_measured"] = Math.Round(bound, 3), ["efficiency"] = Math.Round(achieved / bound, 3),
                    });
                    Console.WriteLine($"  oracle batch {batch} depth {depth} α {alpha}: accept {m.MeanAcceptLength:F2} (expected {expected:F2}), v {v:F2}, "
                        + $"speedup {achieved:F2}x, bound {bound:F2}x, efficiency {achieved / bound:F2}");
                }
        }
        return (rows, identical);
    }

    /// <summary>Proposes each request's known continuation, each token right with probability α (a fixed hash of request and position).</summary>
    /// <remarks>With <paramref name="wrongAlways"/> it proposes tokens no row could emit (the widest drafts, never accepted).</remarks>
    private sealed class OracleDrafter(IReadOnlyList<RolloutRequest> requests, IReadOnlyList<Trajectory> reference, double alpha, int vocab,
        bool wrongAlways = false) : IDrafter
    {
        public string Name => "oracle";
        public void Begin(int rows, int maxLength) { }
        public void ResetRow(int row) { }
        public void MoveRow(int from, int to) { }
        public void Observe(int row, int start, Tensor hidden) { }
        public void Dispose() { }

        public IReadOnlyList<DraftTree> Propose(DraftContext context) => Enumerable.Range(0, context.Rows).Select(r =>
        {
            var tokens = context.Tokens[r];
            int index = Enumerable.Range(0, requests.Count).First(i => requests[i].PromptTokens.SequenceEqual(tokens.Take(context.PromptLengths[r])));
            var truth = reference[index].ResponseTokens;
            int generated = tokens.Count - context.PromptLengths[r];
            int depth = Math.Min(Math.Min(context.Strategy.Depth, context.MaxDraft[r]), Math.Min(context.MaxNodes, wrongAlways ? int.MaxValue : truth.Length - generated));
            var draft = new int[Math.Max(0, depth)];
            for (int j = 0; j < draft.Length; j++)
            {
                ulong h = (ulong)(index * 7919 + generated + j) * 0x9E3779B97F4A7C15UL;
                bool right = (h >> 11) * (1.0 / (1UL << 53)) < alpha;
                draft[j] = wrongAlways ? (tokens[^1] + 1 + j) % vocab : right ? truth[generated + j] : (truth[generated + j] + 1) % vocab;
            }
            return DraftTree.Chain(draft);
        }).ToList();
    }

    /// <summary>The EAGLE drafter's drafting time per drafted token, whole head against a reduced draft vocabulary.</summary>
    private static JsonArray ReducedHead(CausalLM model, bool quick)
    {
        var rows = new JsonArray();
        using var eagle = new EagleDraftModel(model.Config, seed: 3);
        eagle.to(model.DType);
        foreach (int size in new[] { 0, 32_768, 16_384 })
            foreach (int batch in new[] { 1, 4 })
            {
                using var drafter = new EagleDrafter(model, eagle) { Vocabulary = size == 0 ? null : new DraftVocabulary(Enumerable.Range(0, size), model.Config.VocabSize) };
                var requests = Requests(model, batch, quick ? 12 : 24, new SamplingOptions { Temperature = 1.0 });
                var engine = new RolloutEngine(model, new RolloutEngineOptions
                {
                    MaxRunningBatch = batch, MaxSequenceLength = PromptTokens + 40, Drafter = drafter, Strategy = SpecStrategy.ChainOf(4),
                });
                var m = engine.Generate(requests).Metrics;
                double perToken = m.DraftSeconds / Math.Max(1, m.DraftedTokens) * batch;             // a drafted position of the whole batch
                rows.Add(new JsonObject { ["draft_vocab"] = size == 0 ? model.Config.VocabSize : size, ["batch"] = batch, ["draft_ms_per_position"] = Math.Round(perToken * 1000, 3) });
                Console.WriteLine($"  EAGLE head {(size == 0 ? model.Config.VocabSize : size),6} tokens, batch {batch}: {perToken * 1000:F2} ms per drafted position");
            }
        return rows;
    }
}
