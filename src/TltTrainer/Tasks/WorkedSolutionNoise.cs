// The imperfections the embedded target is taught, so that RL has something to fix and rollout lengths
// depend on the sample, as in reasoning RL:
// - a guess: instead of working the chain out, the answer alone, near the sum ("A:" then the sum plus an offset in
//   [-2, 2], right one time in five). Trained with probability g < 1/2 (greedy decoding works every chain out), the
//   target at temperature 1 guesses about that often and is then mostly wrong: the first decision of a response
//   decides most of its reward, so GRPO learns quickly to work chains out, and the responses get longer as it does.
// - a slip: a partial sum written one off (s + d ± 1), after which the chain carries on from the wrong value,
//   so the final answer is wrong. Trained with probability ε per step, the target samples slips at about that
//   rate at temperature 1 (greedy decoding stays exact while ε < 1/2): long chains fail more often than short
//   ones, and GRPO learns to make slips rarer.
// - a retry: after an answer, "?" and the whole chain again (its own slips included). The graded answer is the
//   last one. Retries are geometric (probability ρ each, at most MaxRetries), so the four responses of a group
//   differ in length by whole passes and a step's longest responses are a few sequences, not a whole group.
using System.Globalization;
using System.Text;

namespace TltTrainer.Tasks;

/// <summary>Slip and retry rates of worked solutions (training data of the embedded target).</summary>
/// <param name="SlipProbability">Probability that a partial sum is written one off; in [0, 0.5).</param>
/// <param name="RetryProbability">Probability of one more pass after an answer; in [0, 1).</param>
/// <param name="MaxRetries">Most extra passes; in [0, 8].</param>
/// <param name="GuessProbability">Probability that the response is a guess instead of a worked chain; in [0, 0.5).</param>
public sealed record WorkedSolutionNoise(double SlipProbability, double RetryProbability, int MaxRetries, double GuessProbability = 0)
{
    /// <summary>The marker that starts a retry pass.</summary>
    public const char RetryMarker = '?';

    /// <summary>No slips, no retries: the reference solution.</summary>
    public static WorkedSolutionNoise None { get; } = new(0, 0, 0);

    /// <summary>Largest distance of a guess from the sum.</summary>
    public const int GuessSpread = 2;

    /// <summary>Checks every field and returns this instance.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A field is out of range; the message names it and its value.</exception>
    public WorkedSolutionNoise Validate()
    {
        if (!(SlipProbability is >= 0 and < 0.5))
            throw new ArgumentOutOfRangeException(nameof(SlipProbability), SlipProbability, "SlipProbability must lie in [0, 0.5) (greedy decoding must stay exact).");
        if (!(RetryProbability is >= 0 and < 1))
            throw new ArgumentOutOfRangeException(nameof(RetryProbability), RetryProbability, "RetryProbability must lie in [0, 1).");
        if (!(GuessProbability is >= 0 and < 0.5))
            throw new ArgumentOutOfRangeException(nameof(GuessProbability), GuessProbability, "GuessProbability must lie in [0, 0.5) (greedy decoding must work chains out).");
        if (MaxRetries is < 0 or > 8)
            throw new ArgumentOutOfRangeException(nameof(MaxRetries), MaxRetries, "MaxRetries must lie in [0, 8].");
        return this;
    }

    /// <summary>A worked response for <paramref name="terms"/> with slips and retries drawn from <paramref name="random"/>.</summary>
    /// <param name="terms">Single-digit terms, at least two.</param>
    /// <param name="random">The stream the slips and retries are drawn from.</param>
    /// <param name="maxLength">Longest response accepted: retries that would exceed it are not taken (a first pass always is).</param>
    internal string Write(IReadOnlyList<int> terms, SplitMix64 random, int maxLength = int.MaxValue)
    {
        var response = new StringBuilder();
        if (GuessProbability > 0 && random.NextDouble() < GuessProbability)
        {
            int guess = Math.Max(0, terms.Sum() + random.NextInt(2 * GuessSpread + 1) - GuessSpread);
            return response.Append("A:").Append(guess.ToString(CultureInfo.InvariantCulture)).ToString();
        }
        for (int pass = 0; ; pass++)
        {
            int start = response.Length;
            WritePass(terms, random, response);
            if (response.Length > maxLength && pass > 0)
            {
                response.Length = start - 1;   // drop this pass and its marker: it does not fit
                break;
            }
            if (pass >= MaxRetries || random.NextDouble() >= RetryProbability) break;
            response.Append(RetryMarker);
        }
        return response.ToString();
    }

    private void WritePass(IReadOnlyList<int> terms, SplitMix64 random, StringBuilder response)
    {
        int sum = terms[0];
        for (int i = 1; i < terms.Count; i++)
        {
            int next = sum + terms[i];
            if (random.NextDouble() < SlipProbability) next = next == 0 || random.NextDouble() < 0.5 ? next + 1 : next - 1;
            response.Append(CultureInfo.InvariantCulture, $"{sum}+{terms[i]}={next};");
            sum = next;
        }
        response.Append("A:").Append(sum.ToString(CultureInfo.InvariantCulture));
    }
}
