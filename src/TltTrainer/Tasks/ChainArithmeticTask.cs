// The embedded verifiable task: add a chain of single-digit terms, showing each partial sum.
// Prompt "3+8+5=", worked response "3+8=11;11+5=16;A:16". Each extra term adds one "s+d=s';" step
// (6-10 characters), so response length is linear in the term count, and the term count is drawn from
// a truncated power law (see ChainArithmeticOptions): most responses are short, a few are very long.
// Reward is exact match of the final answer; the steps are the "reasoning" and are not graded.
using System.Globalization;
using System.Text;

namespace TltTrainer.Tasks;

/// <summary>Seeded generator and verifier of chain-addition problems with a heavy-tailed response length.</summary>
public sealed class ChainArithmeticTask
{
    private const string AnswerMarker = "A:";
    private readonly SplitMix64 _random;
    private readonly double[] _cumulative;   // _cumulative[i] = P(terms ≤ MinTerms + i)

    /// <summary>Creates a generator; successive <see cref="Sample"/> calls continue one seeded stream.</summary>
    /// <param name="options">Shape and seed; default <see cref="ChainArithmeticOptions"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">The options are invalid.</exception>
    public ChainArithmeticTask(ChainArithmeticOptions? options = null)
    {
        Options = (options ?? new ChainArithmeticOptions()).Validate();
        _random = new SplitMix64(Options.Seed);
        int n = Options.MaxTerms - Options.MinTerms + 1;
        _cumulative = new double[n];
        double total = 0;
        for (int i = 0; i < n; i++) _cumulative[i] = total += Math.Pow(Options.MinTerms + i, -Options.TailExponent);
        for (int i = 0; i < n; i++) _cumulative[i] /= total;
        _cumulative[n - 1] = 1.0;
    }

    /// <summary>The validated options.</summary>
    public ChainArithmeticOptions Options { get; }

    /// <summary>Probability that an example has <paramref name="terms"/> terms (0 outside the range).</summary>
    public double TermProbability(int terms)
    {
        if (terms < Options.MinTerms || terms > Options.MaxTerms) return 0;
        int i = terms - Options.MinTerms;
        return _cumulative[i] - (i == 0 ? 0 : _cumulative[i - 1]);
    }

    /// <summary>Draws <paramref name="count"/> examples with term counts from the power law.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    public IReadOnlyList<TaskExample> Sample(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var examples = new TaskExample[count];
        for (int i = 0; i < count; i++) examples[i] = Draw(DrawTerms());
        return examples;
    }

    /// <summary>Draws <paramref name="count"/> examples of exactly <paramref name="terms"/> terms (evaluation buckets, curricula).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A count is negative or <paramref name="terms"/> is outside [2, <see cref="ChainArithmeticOptions.TermLimit"/>].</exception>
    public IReadOnlyList<TaskExample> SampleWithTerms(int terms, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (terms < 2 || terms > ChainArithmeticOptions.TermLimit)
            throw new ArgumentOutOfRangeException(nameof(terms), terms, $"terms must lie in [2, {ChainArithmeticOptions.TermLimit}].");
        var examples = new TaskExample[count];
        for (int i = 0; i < count; i++) examples[i] = Draw(terms);
        return examples;
    }

    /// <summary>Builds the example for the given single-digit terms.</summary>
    /// <exception cref="ArgumentException">Fewer than two terms, or a term outside 0-9.</exception>
    public static TaskExample FromTerms(IReadOnlyList<int> terms)
    {
        ArgumentNullException.ThrowIfNull(terms);
        if (terms.Count < 2) throw new ArgumentException($"A chain needs at least 2 terms, got {terms.Count}.", nameof(terms));
        var prompt = new StringBuilder();
        var response = new StringBuilder();
        int sum = 0;
        for (int i = 0; i < terms.Count; i++)
        {
            int d = terms[i];
            if (d is < 0 or > 9) throw new ArgumentException($"Term {i} is {d}; terms must be single digits 0-9.", nameof(terms));
            prompt.Append(d).Append(i == terms.Count - 1 ? '=' : '+');
            if (i > 0) response.Append(CultureInfo.InvariantCulture, $"{sum}+{d}={sum + d};");
            sum += d;
        }
        string answer = sum.ToString(CultureInfo.InvariantCulture);
        response.Append(AnswerMarker).Append(answer);
        return new TaskExample(prompt.ToString(), response.ToString(), answer, terms.Count);
    }

    /// <summary>
    /// The final answer of a response: the digits after its last <c>A:</c> (a retry pass after an answer
    /// replaces it), which must run to the end (surrounding whitespace ignored). Null when there is no marker,
    /// no digits, or anything after them.
    /// </summary>
    public static string? ExtractAnswer(string response)
    {
        ArgumentNullException.ThrowIfNull(response);
        int at = response.LastIndexOf(AnswerMarker, StringComparison.Ordinal);
        if (at < 0) return null;
        var tail = response.AsSpan(at + AnswerMarker.Length).Trim();
        if (tail.IsEmpty) return null;
        foreach (char c in tail) if (c is < '0' or > '9') return null;
        return tail.ToString();
    }

    /// <summary>Whether the response's final answer (see <see cref="ExtractAnswer"/>) equals <paramref name="answer"/> exactly.</summary>
    public static bool IsCorrect(string response, string answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        return ExtractAnswer(response) is { } extracted && string.Equals(extracted, answer, StringComparison.Ordinal);
    }

    private int DrawTerms()
    {
        double u = _random.NextDouble();
        int i = Array.BinarySearch(_cumulative, u);
        i = i >= 0 ? i + 1 : ~i;   // first index with cumulative > u
        return Options.MinTerms + Math.Min(i, _cumulative.Length - 1);
    }

    private TaskExample Draw(int terms)
    {
        var digits = new int[terms];
        for (int i = 0; i < terms; i++) digits[i] = _random.NextInt(10);
        return FromTerms(digits);
    }
}
