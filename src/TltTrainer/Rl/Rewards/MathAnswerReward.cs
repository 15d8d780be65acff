// Final-answer checker for math responses: the content of the last \boxed{...} (nested braces allowed),
// else the last number in the response. Both sides are normalised (whitespace, $, thousands
// separators, trailing zeros) and compared numerically when both parse as decimals or fractions a/b,
// else as strings.
using System.Globalization;
using System.Text.RegularExpressions;

namespace TltTrainer.Rl;

/// <summary>1 when the response's final answer equals the reference answer, else 0.</summary>
public sealed partial class MathAnswerReward : IRewardFunction
{
    /// <inheritdoc />
    public string Name => "math_answer";

    /// <inheritdoc />
    public double Score(RewardInput input)
    {
        if (input.ReferenceAnswer is null) throw new ArgumentException("the sample has no reference answer.");
        var answer = ExtractAnswer(input.Response);
        return answer is not null && Equivalent(answer, input.ReferenceAnswer) ? 1 : 0;
    }

    /// <summary>The last <c>\boxed{…}</c> content, else the last number, else null.</summary>
    public static string? ExtractAnswer(string response)
    {
        int at = response.LastIndexOf("\\boxed{", StringComparison.Ordinal);
        if (at >= 0)
        {
            int depth = 0, start = at + "\\boxed{".Length;
            for (int i = start; i < response.Length; i++)
            {
                if (response[i] == '{') depth++;
                else if (response[i] == '}' && depth-- == 0) return response[start..i];
            }
        }
        var numbers = NumberPattern().Matches(response);
        return numbers.Count > 0 ? numbers[^1].Value : null;
    }

    /// <summary>Whether two answers agree after normalisation (numerically when both are numbers).</summary>
    public static bool Equivalent(string a, string b)
    {
        string na = Normalise(a), nb = Normalise(b);
        if (TryNumber(na, out var x) && TryNumber(nb, out var y)) return Math.Abs(x - y) <= 1e-9 * Math.Max(1, Math.Abs(y));
        return na == nb;
    }

    private static string Normalise(string s)
    {
        s = s.Trim().Trim('$').Replace(" ", "", StringComparison.Ordinal).TrimEnd('.');
        if (ThousandsPattern().IsMatch(s)) s = s.Replace(",", "", StringComparison.Ordinal);
        return s;
    }

    private static bool TryNumber(string s, out double value)
    {
        var parts = s.Split('/');
        if (parts.Length == 2 && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var n)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d != 0)
        {
            value = n / d;
            return true;
        }
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    [GeneratedRegex(@"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:/\d+)?")]
    private static partial Regex NumberPattern();

    [GeneratedRegex(@"^-?\d{1,3}(,\d{3})+(\.\d+)?$")]
    private static partial Regex ThousandsPattern();
}
