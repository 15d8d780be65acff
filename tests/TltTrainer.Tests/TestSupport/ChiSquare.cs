namespace TltTrainer.Tests.TestSupport;

/// <summary>Pearson chi-square goodness-of-fit with the p-value from the regularised upper incomplete gamma function.</summary>
internal static class ChiSquare
{
    /// <summary>p-value of observed counts against expected probabilities; cells with expected count &lt; 5 are pooled.</summary>
    public static (double Statistic, int DegreesOfFreedom, double PValue) Test(IReadOnlyList<long> observed, IReadOnlyList<double> probabilities)
    {
        long n = observed.Sum();
        double stat = 0, pooledObs = 0, pooledExp = 0;
        int cells = 0;
        for (int i = 0; i < observed.Count; i++)
        {
            double expected = n * probabilities[i];
            if (expected < 5) { pooledObs += observed[i]; pooledExp += expected; continue; }
            stat += (observed[i] - expected) * (observed[i] - expected) / expected;
            cells++;
        }
        if (pooledExp > 0) { stat += (pooledObs - pooledExp) * (pooledObs - pooledExp) / pooledExp; cells++; }
        int dof = cells - 1;
        return (stat, dof, UpperRegularizedGamma(dof / 2.0, stat / 2.0));
    }

    private static double UpperRegularizedGamma(double a, double x)
    {
        if (x <= 0) return 1;
        if (x < a + 1)
        {
            double sum = 1 / a, term = sum;
            for (int n = 1; n < 1000; n++) { term *= x / (a + n); sum += term; if (term < sum * 1e-15) break; }
            return 1 - sum * Math.Exp(-x + a * Math.Log(x) - LogGamma(a));
        }
        // Continued fraction (Lentz).
        double b = x + 1 - a, c = 1e300, d = 1 / b, h = d;
        for (int i = 1; i < 1000; i++)
        {
            double an = -i * (i - a);
            b += 2;
            d = an * d + b; if (Math.Abs(d) < 1e-300) d = 1e-300;
            c = b + an / c; if (Math.Abs(c) < 1e-300) c = 1e-300;
            d = 1 / d;
            double delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-15) break;
        }
        return Math.Exp(-x + a * Math.Log(x) - LogGamma(a)) * h;
    }

    private static double LogGamma(double x)
    {
        double[] g = { 76.18009172947146, -86.50532032941677, 24.01409824083091, -1.231739572450155, 0.1208650973866179e-2, -0.5395239384953e-5 };
        double y = x, tmp = x + 5.5;
        tmp -= (x + 0.5) * Math.Log(tmp);
        double ser = 1.000000000190015;
        foreach (var c in g) ser += c / ++y;
        return -tmp + Math.Log(2.5066282746310005 * ser / x);
    }
}
