// What one evaluation found: the greedy (pass@1) accuracy, mean reward and response length, the sampled
// pass@k when asked for, accuracy per bucket (e.g. a difficulty), each example's greedy response, and the
// seconds it took (reported apart from the RL step's rollout time).
namespace TltTrainer.Evaluation;

/// <summary>One held-out example.</summary>
/// <param name="Prompt">Prompt text (the template is applied by the evaluator).</param>
/// <param name="Answer">Reference answer, or null (then it counts for reward and length but not accuracy).</param>
/// <param name="Bucket">Optional group reported separately (e.g. <c>"terms 2-6"</c>), or null.</param>
public sealed record EvaluationExample(string Prompt, string? Answer, string? Bucket = null);

/// <summary>The greedy response to one example.</summary>
/// <param name="Response">Decoded response (special tokens dropped).</param>
/// <param name="TokenIds">The response's token ids (a stop token included).</param>
/// <param name="Stopped">It ended with a stop token (false: cut at the budget or the context).</param>
/// <param name="Correct">The accuracy check's verdict, or null without a check or an answer.</param>
/// <param name="Reward">Total reward, or null without reward functions.</param>
public sealed record EvaluatedResponse(string Response, IReadOnlyList<int> TokenIds, bool Stopped, bool? Correct, double? Reward)
{
    /// <summary>Response length in tokens.</summary>
    public int Tokens => TokenIds.Count;
}

/// <summary>Greedy accuracy of one bucket.</summary>
/// <param name="Bucket">The bucket's name.</param>
/// <param name="Count">Examples in it with an answer.</param>
/// <param name="Correct">Of those, answered correctly.</param>
public sealed record BucketAccuracy(string Bucket, int Count, int Correct)
{
    /// <summary>Correct / Count (0 when empty).</summary>
    public double Accuracy => Count == 0 ? 0 : (double)Correct / Count;
}

/// <summary>Result of <see cref="RolloutEvaluator.Evaluate"/>.</summary>
/// <param name="Responses">Greedy response per example, in example order.</param>
/// <param name="Accuracy">Greedy (pass@1) accuracy over the examples with an answer, or null without an accuracy check.</param>
/// <param name="RewardMean">Mean total reward of the greedy responses, or null without reward functions.</param>
/// <param name="ResponseLengthMean">Mean greedy response length in tokens.</param>
/// <param name="PassAtK">Share of examples with at least one correct response among the k samples, or null when not asked for.</param>
/// <param name="K">Samples per example behind <paramref name="PassAtK"/> (0 = none).</param>
/// <param name="Buckets">Greedy accuracy per bucket, in order of first appearance (empty when no example names one).</param>
/// <param name="Seconds">Wall-clock seconds of the evaluation.</param>
/// <param name="AcceptLength">Mean accepted length of the engine's speculative rounds (1 when it decoded plainly).</param>
public sealed record EvaluationResult(IReadOnlyList<EvaluatedResponse> Responses, double? Accuracy, double? RewardMean, double ResponseLengthMean,
    double? PassAtK, int K, IReadOnlyList<BucketAccuracy> Buckets, double Seconds, double AcceptLength)
{
    /// <summary>Examples evaluated.</summary>
    public int Count => Responses.Count;

    /// <summary>Examples answered correctly by the greedy response.</summary>
    public int Correct => Responses.Count(r => r.Correct == true);
}
