// The target's sampling distribution at one position, after temperature, top-k and top-p, held as
// dense float64 probabilities. Plain sampling, speculative verification and log-prob recording all go
// through this one type, so they agree exactly on what "the target's distribution" is.
//
// Plain sampling is the Gumbel-max of the kept tokens' log-probabilities under the request's hashed noise
// at the position (SamplingNoise): an exact sample of the distribution, computed as the exponential race
// argmax p(x) / −log u(x), where tokens that cannot beat the runner-up are skipped after their hash.
//
// Reproducible draws. The same position's logits differ by ~2e-5 between computation paths (a one-token
// decode, a verification forward over several tokens, another batch composition: matrix kernels round
// differently for different shapes), so a draw whose best and second-best scores are that close (or a
// greedy near-tie, or a top-k/top-p cut that close) could give another token on another path, and a run
// with speculation would drift from the run without it. A draw therefore also says whether it is robust:
// every decision it made clears the path tolerance t (the largest logit difference two paths may show)
// with a margin of twice the most that t can move it (scores z/T: 2t/T between two tokens). A draw that is
// not robust is redone on a canonical path (the caller's recomputation of the position, the same on every
// path). With logits within t of each other on every path, both paths then emit the same token: if either
// is robust, the other's scores (and the canonical ones) keep its winner ahead; otherwise both use the
// canonical distribution. About 4t/T of sampled draws are redone, whatever the vocabulary size.

namespace TltTrainer.Sampling;

/// <summary>Processed next-token distribution at one position.</summary>
public sealed class TokenDistribution
{
    private readonly double _temperature;     // the sampling temperature (1 for greedy requests)
    private readonly double _argmaxGap;       // raw-logit gap between the best and the second-best token
    private readonly double _cutLogitGap;     // top-k: raw-logit gap between the k-th and the (k+1)-th token (∞ without a cut)
    private readonly double _cutMassGap;      // top-p: distance of the cumulative mass around the cut from p (∞ without a cut)
    private readonly double _cutSwapGap;      // top-p: relative gap between the last kept and the first dropped probability

    private TokenDistribution(double[] probs, int argmax, bool greedy, double temperature, double argmaxGap, double cutLogitGap,
        double cutMassGap, double cutSwapGap)
    {
        Probs = probs;
        Argmax = argmax;
        IsGreedy = greedy;
        _temperature = temperature;
        _argmaxGap = argmaxGap;
        _cutLogitGap = cutLogitGap;
        _cutMassGap = cutMassGap;
        _cutSwapGap = cutSwapGap;
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
            if (!float.IsFinite(logits[i])) throw new NonFiniteLogitsException(i, logits[i]);
            if (logits[i] > logits[argmax]) argmax = i;
        }
        double second = double.NegativeInfinity;
        for (int i = 0; i < v; i++) if (i != argmax && logits[i] > second) second = logits[i];
        double temperature = options.IsGreedy ? 1.0 : options.Temperature;
        var z = new double[v];
        for (int i = 0; i < v; i++) z[i] = logits[i] / temperature;
        double cutLogitGap = double.PositiveInfinity, cutMassGap = double.PositiveInfinity, cutSwapGap = double.PositiveInfinity;
        if (!options.IsGreedy && options.TopK > 0 && options.TopK < v)
        {
            var sorted = (double[])z.Clone();
            Array.Sort(sorted);
            double threshold = sorted[v - options.TopK];
            cutLogitGap = (threshold - sorted[v - options.TopK - 1]) * temperature;
            for (int i = 0; i < v; i++) if (z[i] < threshold) z[i] = double.NegativeInfinity;
        }
        double max = z[argmax], sum = 0;
        var p = new double[v];
        for (int i = 0; i < v; i++) { p[i] = Math.Exp(z[i] - max); sum += p[i]; }
        for (int i = 0; i < v; i++) p[i] /= sum;
        if (!options.IsGreedy && options.TopP < 1) (cutMassGap, cutSwapGap) = ApplyTopP(p, options.TopP);
        return new TokenDistribution(p, argmax, options.IsGreedy, temperature, logits[argmax] - second, cutLogitGap, cutMassGap, cutSwapGap);
    }

    /// <summary>
    /// Plain sampling's token at a position: the argmax when greedy, else the Gumbel-max of the kept tokens under
    /// <paramref name="noise"/> (an exact draw from <see cref="Probs"/>).
    /// </summary>
    public int Sample(SamplingNoise noise) => Pick(noise, out _);

    /// <summary>
    /// Draws the token <see cref="Sample(SamplingNoise)"/> draws, but when the draw is not robust to logit differences of
    /// <paramref name="tolerance"/> between computation paths (see the file comment) redoes it with the same noise on
    /// <paramref name="canonical"/>'s distribution of the same position.
    /// </summary>
    /// <param name="noise">The request's noise at this position.</param>
    /// <param name="tolerance">Largest logit difference between computation paths to absorb; 0 = never redo.</param>
    /// <param name="canonical">Recomputes this position's distribution on the canonical path; called only when needed.</param>
    /// <param name="decided">The distribution that decided: this one, or the canonical one (record log-probs from it).</param>
    public int Sample(SamplingNoise noise, double tolerance, Func<TokenDistribution>? canonical, out TokenDistribution decided)
    {
        int token = Pick(noise, out double scoreGap);
        decided = this;
        if (tolerance <= 0 || canonical is null || IsRobust(scoreGap, tolerance)) return token;
        decided = canonical();
        return decided.Pick(noise, out _);
    }

    /// <summary>A draw from the request's random stream by inverse CDF (rejection and children-first verification).</summary>
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

    /// <summary>The greedy or Gumbel-max choice, with the log of its score over the runner-up's (the raw-logit gap when greedy).</summary>
    private int Pick(SamplingNoise noise, out double scoreGap)
    {
        if (IsGreedy) { scoreGap = _argmaxGap; return Argmax; }
        // Exponential race: maximise p(x) / E(x) with E(x) = −log u(x). The most likely token goes first so the bound is
        // tight at once; a token is skipped when u(x) ≤ 1 − p(x)/second, since then E(x) ≥ p(x)/second (−log u ≥ 1 − u).
        int winner = Argmax;
        double best = Probs[Argmax] / -Math.Log(noise.Uniform(Argmax)), second = 0;
        for (int x = 0; x < Probs.Length; x++)
        {
            double w = Probs[x];
            if (w <= 0 || x == Argmax) continue;
            double u = noise.Uniform(x);
            if (second > 0 && u <= 1 - w / second) continue;
            double score = w / -Math.Log(u);
            if (score > best) { second = best; best = score; winner = x; }
            else if (score > second) second = score;
        }
        scoreGap = second > 0 ? Math.Log(best / second) : double.PositiveInfinity;
        return winner;
    }

    // Margins twice the most a tolerance-sized logit difference can move each decision: 2t between two raw logits
    // (greedy, top-k), 2t/T between two scores and in a cumulative top-p mass.
    private bool IsRobust(double scoreGap, double tolerance)
    {
        if (IsGreedy) return scoreGap > 4 * tolerance;
        double scaled = 4 * tolerance / _temperature;
        return scoreGap > scaled && _cutLogitGap > 4 * tolerance && _cutMassGap > scaled && _cutSwapGap > scaled;
    }

    /// <summary>Keeps the smallest most-likely set reaching <paramref name="topP"/>; returns how far the cut is from moving.</summary>
    private static (double MassGap, double SwapGap) ApplyTopP(double[] p, double topP)
    {
        var order = Enumerable.Range(0, p.Length).Where(i => p[i] > 0).OrderByDescending(i => p[i]).ThenBy(i => i).ToArray();
        double cumulative = 0, kept = 0, before = 0;
        int cut = order.Length;
        for (int r = 0; r < order.Length; r++)
        {
            before = cumulative;
            cumulative += p[order[r]];
            if (cumulative >= topP) { cut = r + 1; break; }
        }
        // The cut moves if the mass before the last kept token reaches p, or the mass with it falls short of p, or the last
        // kept and the first dropped token change places.
        double massGap = cut == order.Length ? double.PositiveInfinity : Math.Min(cumulative - topP, topP - before);
        double swapGap = cut == order.Length ? double.PositiveInfinity : (p[order[cut - 1]] - p[order[cut]]) / p[order[cut - 1]];
        for (int r = cut; r < order.Length; r++) p[order[r]] = 0;
        for (int r = 0; r < cut; r++) kept += p[order[r]];
        for (int i = 0; i < p.Length; i++) p[i] /= kept;
        return (massGap, swapGap);
    }
}
