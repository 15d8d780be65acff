// SpecBench --tinystories-drafter: the generic DrafterWarmup recipe on a real 2-layer checkpoint
// (TinyStories-656K). Trains a drafter on the model's own generations and draws its learning curve:
// chain-5 mean accepted length on the story openings SpecBench uses, at T = 0 (greedy, the target) and at
// T = 1 with sampled drafts (rejection sampling), against the pairs trained on so far. Generations are
// either sampled stories (T = 1 from BOS) or greedy ones (a few tokens sampled from BOS for variety, then
// greedy), since the T = 0 target is the model's greedy text. Accepted lengths are counts; the wall time
// of generation and training is reported for the 10-minute budget.
using System.Diagnostics;
using System.Text.Json.Nodes;
using TltTrainer.Drafting;
using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tokenization;

namespace SpecBench;

/// <summary>One drafter recipe for TinyStories.</summary>
/// <param name="Name">Label in the report.</param>
/// <param name="Stories">Generations to train on.</param>
/// <param name="StoryTokens">Most tokens per generation.</param>
/// <param name="GreedyAfter">Tokens sampled at T = 1 from BOS before the generation turns greedy; null = sampled throughout (T = 1).</param>
/// <param name="Warmup">The training recipe.</param>
/// <param name="EvaluateEvery">Steps between points of the learning curve.</param>
internal sealed record TinyStoriesRecipe(string Name, int Stories, int StoryTokens, int? GreedyAfter, DrafterWarmupOptions Warmup, int EvaluateEvery);

internal static class TinyStoriesDrafterBench
{
    public const int ChainDepth = 5;

    /// <summary>
    /// The recipe SpecBench --adaptation reports: 512 greedy stories (16 sampled tokens from BOS, then greedy), 8 stories per step,
    /// 600 steps with a cosine decay from a learning rate of 4e-3 (156 s of training on two shared cores; 4x the stories and 1,000
    /// steps of 16 gave no more: see docs/benchmarks.md for the curve and the variants tried).
    /// </summary>
    public static TinyStoriesRecipe Recipe { get; } = new("greedy-cosine", Stories: 512, StoryTokens: 256, GreedyAfter: 16,
        new DrafterWarmupOptions { Steps = 600, SequencesPerStep = 8, RowLength = 256, LearningRate = 4e-3, CosineDecay = true, Seed = 5 }, EvaluateEvery: 200);

    public static JsonObject Run(string modelDir, IReadOnlyList<TinyStoriesRecipe> recipes)
    {
        using var model = HfCheckpoint.Load(modelDir);
        model.eval();
        var tokenizer = TokenizerLoader.FromDirectory(modelDir, new TokenizerLoadOptions { EncodeDefaults = new EncodeOptions { AddBos = true, AddPrefixSpace = false } });
        int bos = tokenizer.BosId ?? 1, eos = tokenizer.EosId ?? 2;
        var stop = new HashSet<int> { eos };
        var openings = RealModelBench.Openings.Select(o => (IReadOnlyList<int>)tokenizer.Encode(o)).ToList();
        var report = new JsonObject { ["model"] = modelDir, ["chain_depth"] = ChainDepth, ["openings"] = openings.Count };
        var runs = new JsonArray();
        foreach (var recipe in recipes)
        {
            Console.WriteLine($"  recipe {recipe.Name}: {recipe.Stories} generations of ≤ {recipe.StoryTokens} tokens"
                + (recipe.GreedyAfter is { } g ? $", greedy after {g} sampled tokens" : ", sampled (T = 1)") + $"; {recipe.Warmup}");
            var clock = Stopwatch.StartNew();
            var examples = Generate(model, recipe, bos, stop);
            double generationSeconds = clock.Elapsed.TotalSeconds;
            var curve = new JsonArray();
            JsonArray? reduced = null;
            double trainingSeconds = 0;
            clock.Restart();
            try
            {
                using var trained = DrafterWarmup.TrainOn(model, examples, recipe.Warmup, onStep: step =>
                {
                    if (step.Step % recipe.EvaluateEvery != 0 && step.Step != recipe.Warmup.Steps) return;
                    trainingSeconds += clock.Elapsed.TotalSeconds;
                    double greedy = AcceptLength(model, step.Model, openings, stop, temperature: 0);
                    double sampled = AcceptLength(model, step.Model, openings, stop, temperature: 1);
                    Console.WriteLine($"    step {step.Step,5} ({step.Pairs,9} pairs, {trainingSeconds,6:F0} s training): top-1 {step.Result.Top1Accuracy:P0}, "
                        + $"chain-{ChainDepth} accepted length T=0 {greedy:F3}, T=1 sampled drafts {sampled:F3}");
                    curve.Add(new JsonObject
                    {
                        ["step"] = step.Step, ["pairs"] = step.Pairs, ["training_s"] = Math.Round(trainingSeconds, 1), ["top1"] = Math.Round(step.Result.Top1Accuracy, 3),
                        ["accept_len_t0"] = Math.Round(greedy, 3), ["accept_len_t1_sampled"] = Math.Round(sampled, 3),
                    });
                    clock.Restart();
                });
                reduced = ReducedVocabulary(model, trained, examples, openings, stop);
            }
            finally
            {
                foreach (var e in examples) e.Dispose();
            }
            runs.Add(new JsonObject
            {
                ["name"] = recipe.Name, ["stories"] = recipe.Stories, ["story_tokens"] = recipe.StoryTokens, ["greedy_after"] = recipe.GreedyAfter,
                ["recipe"] = recipe.Warmup.ToString(), ["generation_s"] = Math.Round(generationSeconds, 1), ["training_s"] = Math.Round(trainingSeconds, 1),
                ["curve"] = curve, ["reduced_vocabulary"] = reduced,
            });
        }
        report["runs"] = runs;
        return report;
    }

    /// <summary>The model's own generations with one target forward each for their hidden states.</summary>
    private static List<DrafterExample> Generate(CausalLM model, TinyStoriesRecipe recipe, int bos, IReadOnlySet<int> stop)
    {
        var engine = new RolloutEngine(model, new RolloutEngineOptions { MaxRunningBatch = 64 });
        ulong seed = recipe.Warmup.Seed * 7919;
        var requests = Enumerable.Range(0, recipe.Stories).Select(i => new RolloutRequest(i, new[] { bos }, new SamplingOptions
        {
            Temperature = 1.0, MaxNewTokens = recipe.GreedyAfter ?? recipe.StoryTokens, StopTokens = stop, Seed = seed + (ulong)i,
        })).ToList();
        var trajectories = engine.Generate(requests).Trajectories;
        if (recipe.GreedyAfter is not null)
        {
            // Continue each sampled opening greedily: the prompt is BOS + the sampled tokens, and the whole text is trained on.
            var greedy = trajectories.Where(t => t.Finish != FinishReason.Stop).Select((t, i) => new RolloutRequest(i,
                t.PromptTokens.Concat(t.ResponseTokens).ToArray(), SamplingOptions.Greedy(recipe.StoryTokens - t.ResponseTokens.Length, stop))).ToList();
            trajectories = engine.Generate(greedy).Trajectories.Select(t => t with { PromptTokens = new[] { bos }, ResponseTokens = t.PromptTokens.Skip(1).Concat(t.ResponseTokens).ToArray() }).ToList();
        }
        return DrafterTrainer.CollectExamples(model, trajectories);
    }

    /// <summary>
    /// The trained drafter's accepted length with a reduced draft vocabulary (the N tokens most frequent in its training
    /// generations, plus the stop tokens) against the whole vocabulary, at T = 0 and T = 1 with sampled drafts (issue 15 item 2).
    /// </summary>
    private static JsonArray ReducedVocabulary(CausalLM model, EagleDraftModel trained, IReadOnlyList<DrafterExample> examples,
        IReadOnlyList<IReadOnlyList<int>> openings, IReadOnlySet<int> stop)
    {
        var rows = new JsonArray();
        int vocab = model.Config.VocabSize;
        double fullGreedy = AcceptLength(model, trained, openings, stop, temperature: 0), fullSampled = AcceptLength(model, trained, openings, stop, temperature: 1);
        foreach (int size in new[] { vocab / 2, vocab / 4, vocab / 8 })
        {
            var kept = DraftVocabulary.MostFrequent(examples.SelectMany(e => e.Tokens), size, vocab, always: stop);
            double greedy = AcceptLength(model, trained, openings, stop, temperature: 0, kept);
            double sampled = AcceptLength(model, trained, openings, stop, temperature: 1, kept);
            Console.WriteLine($"    draft vocabulary {kept.Size,5} of {vocab}: accepted length T=0 {greedy:F3} (whole {fullGreedy:F3}), T=1 sampled {sampled:F3} (whole {fullSampled:F3})");
            rows.Add(new JsonObject
            {
                ["draft_vocab"] = kept.Size, ["accept_len_t0"] = Math.Round(greedy, 3), ["accept_len_t0_whole"] = Math.Round(fullGreedy, 3),
                ["accept_len_t1_sampled"] = Math.Round(sampled, 3), ["accept_len_t1_sampled_whole"] = Math.Round(fullSampled, 3),
                ["ratio_t0"] = Math.Round(greedy / fullGreedy, 3), ["ratio_t1_sampled"] = Math.Round(sampled / fullSampled, 3),
            });
        }
        return rows;
    }

    /// <summary>Chain-5 mean accepted length on the openings: greedy drafts verified greedily at T = 0, sampled drafts by rejection sampling at T = 1 (4 seeds each).</summary>
    public static double AcceptLength(CausalLM model, EagleDraftModel drafter, IReadOnlyList<IReadOnlyList<int>> openings, IReadOnlySet<int> stop, double temperature,
        DraftVocabulary? vocabulary = null)
    {
        using var runtime = new EagleDrafter(model, drafter) { Vocabulary = vocabulary };
        var engine = new RolloutEngine(model, new RolloutEngineOptions
        {
            MaxRunningBatch = 32, Drafter = runtime, Strategy = SpecStrategy.ChainOf(ChainDepth, sample: temperature > 0),
        });
        int seeds = temperature > 0 ? 4 : 1;
        var requests = Enumerable.Range(0, openings.Count * seeds).Select(i => new RolloutRequest(i, openings[i / seeds],
            temperature > 0 ? new SamplingOptions { Temperature = temperature, MaxNewTokens = 256, StopTokens = stop, Seed = (ulong)i } : SamplingOptions.Greedy(256, stop)))
            .ToList();
        return engine.Generate(requests).Metrics.MeanAcceptLength;
    }
}
