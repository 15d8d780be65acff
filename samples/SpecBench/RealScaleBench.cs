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
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TorchSharp;
using static TorchSharp.torch;

internal static class RealScaleBench
{
    private const int PromptTokens = 16;

    public static JsonObject Run(string? modelDir, bool quick)
    {
        using var model = modelDir is null ? RandomQwen(ScalarType.BFloat16) : HfCheckpoint.Load(modelDir, ScalarType.BFloat16);
        model.eval();
        int newTokens = quick ? 24 : 48;
        var report = new JsonObject
        {
            ["model"] = modelDir ?? "random-weight Qwen2.5-0.5B shape", ["dtype"] = model.DType.ToString(), ["vocab"] = model.Config.VocabSize,
            ["parameters"] = model.parameters().Sum(p => p.numel()), ["new_tokens"] = newTokens,
            ["logit_sharpness"] = modelDir is null ? LogitSharpness : null, ["logits"] = LogitShape(model),
        };
        Console.WriteLine($"  logits: {report["logits"]!.ToJsonString()}");
        var batches = new JsonArray();
        var verifyCost = new Dictionary<(int Batch, int Width), double>();
        foreach (int batch in new[] { 1, 4, 16 })
        {
            // Batch 16 decodes a quarter as many tokens: a bf16 step there takes ~0.5 s on two AVX2 cores, and step times are what is compared.
            int tokens = batch == 16 ? Math.Max(8, newTokens / 4) : newTokens;
            // Verification forwards over 4-6 tokens per row run at bf16 matmul speed (a few GFLOP/s on CPUs without bf16 units: ~0.6 s
            // per step at batch 4, seconds at batch 16), and their cost per step is steady: 12 steps at batch 4, 8 once at batch 16.
            var (verifyTokens, verifyRuns) = batch switch { 1 => (tokens, 2), 4 => (Math.Min(tokens, 12), 2), _ => (Math.Min(tokens, 8), 1) };
            var greedy = Requests(model, batch, tokens, new SamplingOptions { Temperature = 0 });
            double greedyStep = StepSeconds(model, greedy);
            double topP = StepSeconds(model, Requests(model, batch, tokens, new SamplingOptions { Temperature = 1.0, TopP = 0.95 }));
            double topK = StepSeconds(model, Requests(model, batch, tokens, new SamplingOptions { Temperature = 1.0, TopK = 50 }));
            var row = new JsonObject
            {
                ["batch"] = batch, ["plain_step_ms"] = Math.Round(greedyStep * 1000, 2),
                ["sampling_overhead_top_p"] = Math.Round(topP / greedyStep - 1, 3), ["sampling_overhead_top_k"] = Math.Round(topK / greedyStep - 1, 3),
            };
            row["sampling_overhead"] = Math.Max(row["sampling_overhead_top_p"]!.GetValue<double>(), row["sampling_overhead_top_k"]!.GetValue<double>());
            foreach (int width in new[] { 4, 6 })
            {
                verifyCost[(batch, width)] = VerifyStepSeconds(model, Requests(model, batch, verifyTokens, new SamplingOptions { Temperature = 0 }), width, verifyRuns) / greedyStep;
                row[$"verify_cost_ratio_{width}"] = Math.Round(verifyCost[(batch, width)], 3);
            }
            Console.WriteLine($"  batch {batch,2}: plain step {greedyStep * 1000:F1} ms, sampling overhead top-p {row["sampling_overhead_top_p"]}, top-k {row["sampling_overhead_top_k"]}, "
                + $"v(4) {verifyCost[(batch, 4)]:F2}, v(6) {verifyCost[(batch, 6)]:F2}");
            batches.Add(row);
        }
        report["batches"] = batches;
        // In bf16 a multi-token forward rounds differently from a one-token step (path tolerance 0: no canonical
        // recomputation), so greedy speculative output drifts from plain output and an oracle keyed to the plain continuation
        // is wrong after the first flip. The machinery is measured in float32, where the output is exact; bf16 identity is
        // reported from one configuration.
        var (_, identicalBf16) = Oracle(model, newTokens, quick: true, single: true);
        report["greedy_identical_bf16"] = identicalBf16;
        model.to(ScalarType.Float32);
        var (oracle, identical) = Oracle(model, newTokens, quick);
        report["oracle_dtype"] = "Float32";
        report["oracle"] = oracle;
        report["greedy_identical"] = identical;
        model.to(ScalarType.BFloat16);
        report["draft_vocabulary"] = ReducedHead(model, quick);
        return report;
    }

    /// <summary>
    /// The final norm's weight of the random model. At the initialisation (norms at 1, weights std 0.02) the logits have a
    /// standard deviation of ~0.6 over 152 k tokens: a near-flat distribution whose top-2 gap bf16 rounding flips, so a
    /// batched or multi-token forward's argmax differs from a single-token one's and no greedy continuation is reproducible,
    /// and top-p 0.95 keeps ~90% of the vocabulary. Scaling the final norm (the compute is unchanged) gives logits with the
    /// spread of a trained model's (standard deviation ~5); the report gives the measured spread and top-p set size.
    /// </summary>
    private const float LogitSharpness = 8f;

    private static CausalLM RandomQwen(ScalarType dtype)
    {
        var model = new CausalLM(TransformerPresets.Qwen25_0_5B, seed: 7);
        using (no_grad()) model.named_parameters().Single(p => p.name == "model.norm.weight").parameter.fill_(LogitSharpness);
        model.to(dtype);
        return model;
    }

    /// <summary>The logits' spread on the benchmark's prompts: standard deviation, top-1 probability, tokens top-p 0.95 keeps.</summary>
    private static JsonObject LogitShape(CausalLM model)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var prompts = Requests(model, 4, 1, new SamplingOptions()).Select(r => r.PromptTokens.Select(t => (long)t)).SelectMany(t => t).ToArray();
        using var output = model.Forward(tensor(prompts).view(4, -1));
        var logits = output.Logits!.to(ScalarType.Float64).reshape(-1, model.Config.VocabSize);
        var probs = logits.softmax(1);
        var (sorted, _) = probs.sort(1, true);
        var kept = sorted.cumsum(1).lt(tensor(0.95)).sum(1).to(ScalarType.Float64) + 1;
        return new JsonObject
        {
            ["logit_std"] = Math.Round(logits.std(1).mean().item<double>(), 3), ["top1_probability"] = Math.Round(sorted.select(1, 0).mean().item<double>(), 4),
            ["top_p_0_95_tokens_median"] = kept.median().item<double>(),
        };
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
    private static double VerifyStepSeconds(CausalLM model, List<RolloutRequest> requests, int width, int runs)
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
        for (int i = 0; i < runs; i++)
        {
            var m = engine.Generate(requests).Metrics;
            best = Math.Min(best, m.VerifySeconds / Math.Max(1, m.SpeculativeSteps));
        }
        return best;
    }

    private static (JsonArray Rows, bool Identical) Oracle(CausalLM model, int newTokens, bool quick, bool single = false)
    {
        var rows = new JsonArray();
        bool identical = true;
        foreach (int batch in single ? new[] { 1 } : new[] { 1, 4 })
        {
            var requests = Requests(model, batch, newTokens, new SamplingOptions { Temperature = 0 });
            var plainEngine = new RolloutEngine(model, new RolloutEngineOptions { MaxRunningBatch = batch, MaxSequenceLength = PromptTokens + newTokens + 8 });
            var reference = plainEngine.Generate(requests);
            double plainSeconds = Math.Min(reference.Metrics.TotalSeconds, plainEngine.Generate(requests).Metrics.TotalSeconds);
            double plainStep = reference.Metrics.VerifySeconds / Math.Max(1, reference.Metrics.DecodeSteps);
            foreach (int depth in single ? new[] { 4 } : new[] { 4, 6 })
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
                    Console.WriteLine($"  oracle ({model.DType}) batch {batch} depth {depth} α {alpha}: accept {m.MeanAcceptLength:F2} (expected {expected:F2}), v {v:F2}, "
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
                // Independent per position (SplitMix64's finalizer): a bare multiplicative hash of consecutive positions is a Weyl
                // sequence, whose evenly spread values made runs of right tokens longer than Bernoulli(α) runs (3.83 for 3.36).
                ulong h = ((ulong)index << 32 | (uint)(generated + j)) + 0x9E3779B97F4A7C15UL;
                h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9UL;
                h = (h ^ (h >> 27)) * 0x94D049BB133111EBUL;
                h ^= h >> 31;
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
