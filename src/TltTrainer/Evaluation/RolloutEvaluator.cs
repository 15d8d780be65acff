// Validation of a policy on a held-out prompt set through a rollout engine: every prompt is answered
// greedily (pass@1) and, when asked, sampled k times (pass@k), all in one Generate call so the engine
// batches them. The engine may speculate: greedy speculative decoding returns exactly the plain greedy
// tokens, so the evaluation is exact and faster. Use an engine that feeds no hidden-state buffer and no
// idle scheduler (TltRollout.EvaluationEngine), so evaluating neither trains the drafter nor counts as
// rollout. Prompts are encoded and checked against the engine's context at construction, so a bad
// example fails before training starts, named by its index.
using System.Diagnostics;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Tlt;
using TltTrainer.Tokenization;

namespace TltTrainer.Evaluation;

/// <summary>Evaluates a policy on a fixed held-out prompt set: greedy accuracy, reward, response length, optional pass@k.</summary>
public sealed class RolloutEvaluator
{
    private readonly IRolloutGenerator _engine;
    private readonly ITextTokenizer _tokenizer;
    private readonly RewardComposer? _rewards;
    private readonly Func<string, string?, bool>? _accuracyCheck;
    private readonly IReadOnlyList<IReadOnlyList<int>> _prompts;

    /// <summary>Creates the evaluator and encodes every prompt.</summary>
    /// <param name="engine">Generates the responses (any engine over the policy; it is not owned).</param>
    /// <param name="tokenizer">Encodes prompts (with its defaults, e.g. BOS) and decodes responses.</param>
    /// <param name="examples">The held-out set (at least one example).</param>
    /// <param name="options">Settings.</param>
    /// <param name="rewards">Reward functions for the mean reward, or null.</param>
    /// <param name="accuracyCheck">Whether a response answers its reference (e.g. the task's verifier), or null for no accuracy.</param>
    /// <exception cref="ArgumentException">No examples, invalid options, or a prompt that encodes to nothing or is too long (named by index).</exception>
    public RolloutEvaluator(IRolloutGenerator engine, ITextTokenizer tokenizer, IReadOnlyList<EvaluationExample> examples, EvaluationOptions options,
        RewardComposer? rewards = null, Func<string, string?, bool>? accuracyCheck = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(examples);
        if (examples.Count == 0) throw new ArgumentException("an evaluation needs at least one example.", nameof(examples));
        Options = (options ?? throw new ArgumentNullException(nameof(options))).Validate();
        int maxPrompt = engine.SequenceCapacity - Options.MaxNewTokens;
        if (maxPrompt < 1)
            throw new ArgumentException($"MaxNewTokens = {Options.MaxNewTokens} leaves no room for a prompt in the engine's {engine.SequenceCapacity}-token context.", nameof(options));
        var prompts = new List<IReadOnlyList<int>>(examples.Count);
        for (int i = 0; i < examples.Count; i++)
        {
            var ids = tokenizer.Encode(Options.Template.Apply(examples[i].Prompt));
            if (ids.Count == 0) throw new ArgumentException($"evaluation example {i}: the prompt encodes to no tokens.", nameof(examples));
            try { prompts.Add(PromptLength.Apply(ids, maxPrompt, Options.OverlongPrompts, examples[i].Prompt)); }
            catch (ArgumentException e) { throw new ArgumentException($"evaluation example {i}: {e.Message}", nameof(examples), e); }
        }
        _engine = engine;
        _tokenizer = tokenizer;
        _rewards = rewards;
        _accuracyCheck = accuracyCheck;
        _prompts = prompts;
        Examples = examples;
    }

    /// <summary>The held-out set.</summary>
    public IReadOnlyList<EvaluationExample> Examples { get; }

    /// <summary>The settings.</summary>
    public EvaluationOptions Options { get; }

    /// <summary>Answers every example greedily (and k sampled times when <see cref="EvaluationOptions.PassAtK"/> &gt; 0) and scores the answers.</summary>
    /// <param name="cancellationToken">Checked between decode steps.</param>
    /// <param name="progress">The engine's progress, or null.</param>
    /// <exception cref="RewardException">A reward function failed; names the sample.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public EvaluationResult Evaluate(CancellationToken cancellationToken = default, IProgress<RolloutProgress>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        int n = Examples.Count, k = Options.PassAtK;
        var greedy = SamplingOptions.Greedy(Options.MaxNewTokens, Options.StopTokens);
        var sampled = new SamplingOptions { Temperature = Options.Temperature, TopP = Options.TopP, MaxNewTokens = Options.MaxNewTokens, StopTokens = Options.StopTokens };
        var requests = new List<RolloutRequest>(n * (1 + k));
        for (int i = 0; i < n; i++) requests.Add(new RolloutRequest(i, _prompts[i], greedy, GroupId: i));
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++)
                requests.Add(new RolloutRequest(n + (long)i * k + j, _prompts[i], sampled with { Seed = SampleSeed(Options.Seed, i, j) }, GroupId: i));
        var generated = _engine.Generate(requests, cancellationToken, progress);
        var trajectories = generated.Trajectories;

        var texts = trajectories.Select(t => _tokenizer.Decode(t.ResponseTokens, skipSpecialTokens: true)).ToArray();
        double[]? totals = _rewards?.Score(Enumerable.Range(0, n)
            .Select(i => new RewardInput(i, Examples[i].Prompt, texts[i], Examples[i].Answer)).ToList()).Totals;
        var responses = Enumerable.Range(0, n).Select(i => new EvaluatedResponse(texts[i], trajectories[i].ResponseTokens,
            trajectories[i].Finish == FinishReason.Stop, IsCorrect(i, texts[i], trajectories[i]), totals?[i])).ToList();

        double? passAtK = null;
        if (k > 0 && _accuracyCheck is not null)
        {
            var answered = Enumerable.Range(0, n).Where(i => Examples[i].Answer is not null).ToList();
            passAtK = answered.Count == 0 ? null : answered.Count(i => Enumerable.Range(0, k)
                .Any(j => IsCorrect(i, texts[n + i * k + j], trajectories[n + i * k + j]) == true)) / (double)answered.Count;
        }
        var scored = responses.Where(r => r.Correct is not null).ToList();
        return new EvaluationResult(responses,
            Accuracy: _accuracyCheck is null || scored.Count == 0 ? null : scored.Count(r => r.Correct == true) / (double)scored.Count,
            RewardMean: totals?.Average(), ResponseLengthMean: responses.Average(r => r.Tokens), passAtK, k, Buckets(responses), clock.Elapsed.TotalSeconds,
            AcceptLength: generated.Metrics.MeanAcceptLength);
    }

    private bool? IsCorrect(int example, string response, Trajectory trajectory)
    {
        if (_accuracyCheck is null || Examples[example].Answer is null) return null;
        bool mustStop = Options.RequireStop && Options.StopTokens.Count > 0;
        return (!mustStop || trajectory.Finish == FinishReason.Stop) && _accuracyCheck(response, Examples[example].Answer);
    }

    private IReadOnlyList<BucketAccuracy> Buckets(IReadOnlyList<EvaluatedResponse> responses)
    {
        var buckets = new List<BucketAccuracy>();
        for (int i = 0; i < responses.Count; i++)
        {
            if (Examples[i].Bucket is not { } name || responses[i].Correct is not { } correct) continue;
            int at = buckets.FindIndex(b => b.Bucket == name);
            if (at < 0) buckets.Add(new BucketAccuracy(name, 1, correct ? 1 : 0));
            else buckets[at] = buckets[at] with { Count = buckets[at].Count + 1, Correct = buckets[at].Correct + (correct ? 1 : 0) };
        }
        return buckets;
    }

    private static ulong SampleSeed(ulong seed, int example, int sample)
    {
        ulong h = (seed + 0x9E3779B97F4A7C15UL) * 0xBF58476D1CE4E5B9UL ^ ((ulong)example * 0x94D049BB133111EBUL + (ulong)sample);
        h = (h ^ (h >> 31)) * 0x9E3779B97F4A7C15UL;
        return h ^ (h >> 29);
    }
}
