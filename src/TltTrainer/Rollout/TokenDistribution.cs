// The target's sampling distribution at one position, after temperature, top-k and top-p, held as
// dense float64 probabilities. Plain sampling, speculative verification and log-prob recording all go
// through this one type, so they agree exactly on what "the target's distribution" is.
namespace TltTrainer.Rollout;

/// <summary>Processed next-token distribution at one position.</summary>
public sealed class TokenDistribution
{
    private TokenDistribution(double[] probs, int argmax, bool greedy)
    {
        Probs = probs;
        Argmax = argmax;
        IsGreedy = greedy;
    }

    /// <summary>Probabilities after temperature/top-k/top-p (for greedy requests: the temperature-1 softmax, used for log-probs).</summary>
    public double[] Probs { get; }

    /// <summary>The most likely token (lowest id on ties) of the raw logits.</summary>
    public int Argmax { get; }

    /// <summary>Whether the request is greedy: the next token is <see cref="Argmax"/>.</summary>
    public bool IsGreedy { get; }

    /// <summary>Builds the distribution from one position's raw logits.</summary>
    public static TokenDistribution FromLogits(ReadOnlySpan<float> logits, SamplingOptions options)
    {
        int v = logits.Length, argmax = 0;
        for (int i = 0; i < v; i++)
        {
            if (!float.IsFinite(logits[i])) throw new InvalidOperationException($"the model produced a non-finite logit ({logits[i]}) for token {i}; its weights may have diverged.");
            if (logits[i] > logits[argmax]) argmax = i;
        }
        double temperature = options.IsGreedy ? 1.0 : options.Temperature;
        var z = new double[v];
        for (int i = 0; i < v; i++) z[i] = logits[i] / temperature;
        if (!options.IsGreedy && options.TopK > 0 && options.TopK < v)
        {
            var sorted = (double[])z.Clone();
            Array.Sort(sorted);
            double threshold = sorted[v - options.TopK];
            for (int i = 0; i < v; i++) if (z[i] < threshold) z[i] = double.NegativeInfinity;
        }
        double max = z[argmax], sum = 0;
        var p = new double[v];
        for (int i = 0; i < v; i++) { p[i] = Math.Exp(z[i] - max); sum += p[i]; }
        for (int i = 0; i < v; i++) p[i] /= sum;
        if (!options.IsGreedy && options.TopP < 1) ApplyTopP(p, options.TopP);
        return new TokenDistribution(p, argmax, options.IsGreedy);
    }

    /// <summary>Draws a token: the argmax when greedy, else by inverse CDF with one uniform from <paramref name="rng"/>.</summary>
    public int Sample(RequestRng rng) => IsGreedy ? Argmax : SampleFrom(Probs, rng.NextDouble());

    /// <summary>Natural log of the token's probability under this distribution.</summary>
    public float LogProb(int token) => (float)Math.Log(Probs[token]);

    /// <summary>Inverse-CDF draw from (possibly unnormalised) non-negative weights with uniform <paramref name="u"/> in [0, 1).</summary>
    public static int SampleFrom(ReadOnlySpan<double> weights, double u)
    {
        double total = 0;
        foreach (var w in weights) total += w;
        double target = u * total, cumulative = 0;
        int last = -1;
        for (int i = 0; i < weights.Length; i++)
        {
            if (weights[i] <= 0) continue;
            cumulative += weights[i];
            last = i;
            if (target < cumulative) return i;
        }
        return last >= 0 ? last : throw new InvalidOperationException("cannot sample from an all-zero distribution.");
    }

    private static void ApplyTopP(double[] p, double topP)
    {
        var order = Enumerable.Range(0, p.Length).Where(i => p[i] > 0).OrderByDescending(i => p[i]).ThenBy(i => i).ToArray();
        double cumulative = 0, kept = 0;
        int cut = order.Length;
        for (int r = 0; r < order.Length; r++)
        {
            cumulative += p[order[r]];
            if (cumulative >= topP) { cut = r + 1; break; }
        }
        for (int r = cut; r < order.Length; r++) p[order[r]] = 0;
        for (int r = 0; r < cut; r++) kept += p[order[r]];
        for (int i = 0; i < p.Length; i++) p[i] /= kept;
    }
}
