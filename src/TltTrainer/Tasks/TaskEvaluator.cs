// Greedy exact-answer evaluation of a model on chain-arithmetic examples, reported per term-count
// bucket (accuracy falls with chain length, so one number hides what RL should improve). Examples
// are batched in order of length so that a batch's rows finish at about the same time. The same
// buckets label held-out examples for the library's RolloutEvaluator (AsEvaluationExamples), which
// evaluates through any rollout engine, speculative included, during an RL run.
using TltTrainer.Evaluation;
using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;

namespace TltTrainer.Tasks;

/// <summary>Evaluates greedy answers of a model on <see cref="ChainArithmeticTask"/> examples.</summary>
public static class TaskEvaluator
{
    /// <summary>Default bucket upper bounds (inclusive): 2-6, 7-12, 13-24 and 25-64 terms.</summary>
    public static IReadOnlyList<int> DefaultBucketBounds { get; } = new[] { 6, 12, 24, ChainArithmeticOptions.TermLimit };

    /// <summary>The bucket of a chain of <paramref name="terms"/> terms, e.g. <c>terms 2-6</c> (the label <see cref="TaskEvaluation"/> prints).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="terms"/> lies beyond the last bound.</exception>
    public static string BucketName(int terms, IReadOnlyList<int>? bucketBounds = null)
    {
        bucketBounds ??= DefaultBucketBounds;
        int lower = 2;
        foreach (int upper in bucketBounds)
        {
            if (terms <= upper) return $"terms {lower}-{upper}";
            lower = upper + 1;
        }
        throw new ArgumentOutOfRangeException(nameof(terms), terms, $"beyond the last bucket bound {bucketBounds[^1]}.");
    }

    /// <summary>
    /// The examples as held-out examples for <see cref="RolloutEvaluator"/>: prompt, answer and term bucket. Check answers with
    /// <see cref="ChainArithmeticTask.IsCorrect"/> and <see cref="ChainArithmeticTextTokenizer"/> (which adds BOS as this evaluator does).
    /// </summary>
    public static IReadOnlyList<EvaluationExample> AsEvaluationExamples(IReadOnlyList<TaskExample> examples, IReadOnlyList<int>? bucketBounds = null) =>
        examples.Select(e => new EvaluationExample(e.Prompt, e.Answer, BucketName(e.Terms, bucketBounds))).ToList();

    /// <summary>Generates a greedy response for every example and checks its final answer.</summary>
    /// <param name="model">The model.</param>
    /// <param name="examples">Examples to answer.</param>
    /// <param name="batchSize">Prompts decoded together.</param>
    /// <param name="bucketBounds">Ascending inclusive upper term bounds of the buckets; default <see cref="DefaultBucketBounds"/>.</param>
    /// <param name="cancellationToken">Checked between decode steps.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is not positive.</exception>
    public static TaskEvaluation Evaluate(CausalLM model, IReadOnlyList<TaskExample> examples, int batchSize = 64,
        IReadOnlyList<int>? bucketBounds = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        bucketBounds ??= DefaultBucketBounds;
        var tokenizer = ChainArithmeticTokenizer.Instance;
        var correct = new bool[examples.Count];
        var responses = new string[examples.Count];
        var order = Enumerable.Range(0, examples.Count).OrderBy(i => examples[i].Prompt.Length).ToArray();
        foreach (var chunk in order.Chunk(batchSize))
        {
            var prompts = chunk.Select(i => tokenizer.Encode(examples[i].Prompt).Prepend(tokenizer.BosId).ToArray()).ToArray();
            // Room for twice the reference response: a runaway stops, a slightly verbose answer still counts.
            int maxNew = 2 * chunk.Max(i => examples[i].Response.Length + 1) + 8;
            var stop = new HashSet<int> { tokenizer.EosId };
            var requests = prompts.Select((p, k) => new RolloutRequest(k, p, SamplingOptions.Greedy(maxNew, stop))).ToList();
            var outputs = new RolloutEngine(model, new RolloutEngineOptions { MaxRunningBatch = batchSize, MaxSequenceLength = Math.Min(model.Config.MaxPositions, prompts.Max(p => p.Length) + maxNew + 1) })
                .Generate(requests, cancellationToken).Trajectories.Select(t => t.ResponseTokens).ToArray();
            for (int k = 0; k < chunk.Length; k++)
            {
                int i = chunk[k];
                bool finished = outputs[k].Length > 0 && outputs[k][^1] == tokenizer.EosId;
                // Ids the tokenizer lacks (the model's vocabulary is larger) show as U+FFFD and make the answer wrong.
                responses[i] = string.Concat(outputs[k].Select(id => id < tokenizer.VocabularySize ? tokenizer.Decode(new[] { id }) : "\uFFFD"));
                correct[i] = finished && ChainArithmeticTask.IsCorrect(responses[i], examples[i].Answer);
            }
        }
        var buckets = new List<TermBucketAccuracy>();
        int lower = 2;
        foreach (int upper in bucketBounds)
        {
            var inBucket = Enumerable.Range(0, examples.Count).Where(i => examples[i].Terms >= lower && examples[i].Terms <= upper).ToArray();
            if (inBucket.Length > 0) buckets.Add(new TermBucketAccuracy(lower, upper, inBucket.Length, inBucket.Count(i => correct[i])));
            lower = upper + 1;
        }
        return new TaskEvaluation(buckets, correct.Count(c => c), examples.Count, responses);
    }
}

/// <summary>Greedy accuracy on examples whose term count lies in [<paramref name="MinTerms"/>, <paramref name="MaxTerms"/>].</summary>
/// <param name="MinTerms">Smallest term count in the bucket.</param>
/// <param name="MaxTerms">Largest term count in the bucket.</param>
/// <param name="Count">Examples in the bucket.</param>
/// <param name="Correct">Examples answered correctly.</param>
public sealed record TermBucketAccuracy(int MinTerms, int MaxTerms, int Count, int Correct)
{
    /// <summary>Correct / Count.</summary>
    public double Accuracy => Count == 0 ? 0 : (double)Correct / Count;

    /// <summary>The bucket's label, e.g. <c>terms 2-6</c> (as <see cref="TaskEvaluator.BucketName"/>).</summary>
    public string Name => $"terms {MinTerms}-{MaxTerms}";
}

/// <summary>Result of <see cref="TaskEvaluator.Evaluate"/>.</summary>
/// <param name="Buckets">Accuracy per non-empty term bucket.</param>
/// <param name="Correct">Examples answered correctly.</param>
/// <param name="Count">Examples evaluated.</param>
/// <param name="Responses">Decoded greedy responses, in example order.</param>
public sealed record TaskEvaluation(IReadOnlyList<TermBucketAccuracy> Buckets, int Correct, int Count, IReadOnlyList<string> Responses)
{
    /// <summary>Overall accuracy.</summary>
    public double Accuracy => Count == 0 ? 0 : (double)Correct / Count;

    /// <summary>One line per bucket, e.g. <c>terms 2-6: 0.93 (186/200)</c>.</summary>
    public override string ToString() => string.Join(Environment.NewLine,
        Buckets.Select(b => $"{b.Name}: {b.Accuracy:F3} ({b.Correct}/{b.Count})")
            .Append($"all: {Accuracy:F3} ({Correct}/{Count})"));
}
