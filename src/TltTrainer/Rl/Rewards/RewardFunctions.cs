// Verifiable rewards: a list of weighted functions over (prompt, response, reference answer). A function
// that throws or returns NaN/Inf stops the step with an error that names the function and the sample;
// nothing is silently zeroed.
using System.Text.RegularExpressions;

namespace TltTrainer.Rl;

/// <summary>What a reward function sees of one sample.</summary>
/// <param name="SampleId">The sample's id (the rollout request id).</param>
/// <param name="Prompt">Prompt text.</param>
/// <param name="Response">Response text.</param>
/// <param name="ReferenceAnswer">Reference answer, if the data has one.</param>
public sealed record RewardInput(long SampleId, string Prompt, string Response, string? ReferenceAnswer);

/// <summary>A reward function.</summary>
public interface IRewardFunction
{
    /// <summary>Name for metrics and errors.</summary>
    string Name { get; }

    /// <summary>Scores one sample.</summary>
    double Score(RewardInput input);
}

/// <summary>A reward function with its weight in the total.</summary>
/// <param name="Function">The function.</param>
/// <param name="Weight">Its weight. Default 1.</param>
public sealed record WeightedReward(IRewardFunction Function, double Weight = 1.0);

/// <summary>A reward function failed on a sample (threw, or returned a non-finite value).</summary>
public sealed class RewardException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Scores samples with a weighted list of reward functions.</summary>
public sealed class RewardComposer
{
    private readonly IReadOnlyList<WeightedReward> _rewards;

    /// <summary>Creates a composer; at least one function, finite weights.</summary>
    public RewardComposer(IReadOnlyList<WeightedReward> rewards)
    {
        if (rewards.Count == 0) throw new ArgumentException("at least one reward function is needed.", nameof(rewards));
        foreach (var r in rewards)
            if (!double.IsFinite(r.Weight)) throw new ArgumentException($"reward '{r.Function.Name}' has weight {r.Weight}.", nameof(rewards));
        _rewards = rewards;
    }

    /// <summary>The functions' names, in order.</summary>
    public IReadOnlyList<string> Names => _rewards.Select(r => r.Function.Name).ToList();

    /// <summary>Total (weighted sum) and per-function scores of each sample.</summary>
    /// <exception cref="RewardException">A function threw or returned a non-finite value; the message names it and the sample.</exception>
    public (double[] Totals, double[][] Components) Score(IReadOnlyList<RewardInput> inputs)
    {
        var totals = new double[inputs.Count];
        var components = new double[inputs.Count][];
        for (int i = 0; i < inputs.Count; i++)
        {
            components[i] = new double[_rewards.Count];
            for (int f = 0; f < _rewards.Count; f++)
            {
                var (function, weight) = (_rewards[f].Function, _rewards[f].Weight);
                double score;
                try { score = function.Score(inputs[i]); }
                catch (Exception e) { throw new RewardException($"reward '{function.Name}' threw on sample {Describe(inputs[i])}: {e.Message}", e); }
                if (!double.IsFinite(score)) throw new RewardException($"reward '{function.Name}' returned {score} on sample {Describe(inputs[i])}.");
                components[i][f] = score;
                totals[i] += weight * score;
            }
        }
        return (totals, components);
    }

    private static string Describe(RewardInput input) =>
        $"{input.SampleId} (prompt \"{Excerpt(input.Prompt)}\", response \"{Excerpt(input.Response)}\")";

    private static string Excerpt(string text) => text.Length <= 60 ? text : text[..57] + "...";
}

/// <summary>1 when the answer extracted from the response equals the reference answer, else 0.</summary>
/// <param name="extract">Pulls the final answer out of a response (null = none found).</param>
/// <param name="name">Name for metrics. Default <c>exact_answer</c>.</param>
public sealed class ExactAnswerReward(Func<string, string?> extract, string name = "exact_answer") : IRewardFunction
{
    /// <inheritdoc />
    public string Name => name;

    /// <inheritdoc />
    public double Score(RewardInput input)
    {
        if (input.ReferenceAnswer is null) throw new ArgumentException("the sample has no reference answer.");
        var answer = extract(input.Response);
        return answer is not null && answer.Trim() == input.ReferenceAnswer.Trim() ? 1 : 0;
    }
}

/// <summary>1 when the response matches a regular expression, else 0.</summary>
public sealed class FormatReward : IRewardFunction
{
    private readonly Regex _pattern;

    /// <summary>Creates the reward; the pattern is validated here.</summary>
    /// <exception cref="ArgumentException">The pattern is not a valid regular expression.</exception>
    public FormatReward(string pattern, string name = "format")
    {
        _pattern = new Regex(pattern, RegexOptions.Singleline | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        Name = name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public double Score(RewardInput input) => _pattern.IsMatch(input.Response) ? 1 : 0;
}
