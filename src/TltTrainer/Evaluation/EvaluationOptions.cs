// What an evaluation on held-out prompts decodes: the response budget and stop tokens (normally those of
// training), the prompt template, whether an answer cut off at the budget can count as correct, and the
// optional sampled pass@k (k samples per prompt at a temperature, seeded per prompt and sample).
using TltTrainer.Rl;

namespace TltTrainer.Evaluation;

/// <summary>Settings of a <see cref="RolloutEvaluator"/>; validated by <see cref="Validate"/>.</summary>
public sealed record EvaluationOptions
{
    /// <summary>Most tokens generated per response. Default 256.</summary>
    public int MaxNewTokens { get; init; } = 256;

    /// <summary>Token ids that end a response (e.g. the tokenizer's EOS). Default none.</summary>
    public IReadOnlySet<int> StopTokens { get; init; } = new HashSet<int>();

    /// <summary>Template applied to every prompt before encoding. Default the prompt as is.</summary>
    public PromptTemplate Template { get; init; } = PromptTemplate.Identity;

    /// <summary>What to do with a prompt longer than the engine's context leaves room for. Default reject (at construction).</summary>
    public OverlongPromptPolicy OverlongPrompts { get; init; } = OverlongPromptPolicy.Reject;

    /// <summary>
    /// Whether a response must end with a stop token to count as correct (an answer cut off at the budget is not an
    /// answer). Ignored when <see cref="StopTokens"/> is empty. Default true.
    /// </summary>
    public bool RequireStop { get; init; } = true;

    /// <summary>Sampled responses per prompt for pass@k, beside the greedy one; 0 = greedy only. Default 0.</summary>
    public int PassAtK { get; init; }

    /// <summary>Temperature of the pass@k samples. Default 1.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Nucleus threshold of the pass@k samples; 1 disables. Default 1.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Seed of the pass@k samples (each prompt and sample gets its own stream from it). Default 0.</summary>
    public ulong Seed { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the field and value when invalid.</summary>
    public EvaluationOptions Validate()
    {
        void Require(bool ok, string field, object value, string rule)
        {
            if (!ok) throw new ArgumentException($"{field} = {value} is invalid: {rule}.");
        }
        Require(MaxNewTokens >= 1, nameof(MaxNewTokens), MaxNewTokens, "must be ≥ 1");
        Require(PassAtK is >= 0 and <= 1024, nameof(PassAtK), PassAtK, "must lie in [0, 1024] (0 = greedy only)");
        Require(Temperature > 0 && double.IsFinite(Temperature), nameof(Temperature), Temperature, "must be a finite number > 0 (the greedy pass is always run)");
        Require(TopP > 0 && TopP <= 1, nameof(TopP), TopP, "must lie in (0, 1]");
        ArgumentNullException.ThrowIfNull(StopTokens, nameof(StopTokens));
        ArgumentNullException.ThrowIfNull(Template, nameof(Template));
        return this;
    }
}
