// The values a numeric setting of a sample accepts, in one place: --help shows it, the command line checks
// each flag's value against it, and the options record checks the same range when its values come from
// elsewhere (a config file, a test), so the three never drift apart.
using System.Globalization;

namespace TltTrainer.Samples;

/// <summary>An interval of finite numbers a setting must lie in, with an optional reason shown beside it.</summary>
/// <param name="Min">Lower bound.</param>
/// <param name="Max">Upper bound (<see cref="double.PositiveInfinity"/> for none).</param>
/// <param name="MinOpen">The lower bound itself is excluded.</param>
/// <param name="Note">Why the range is what it is, e.g. "the context is 1024"; appended in parentheses.</param>
internal sealed record ValueRange(double Min, double Max, bool MinOpen = false, string? Note = null)
{
    /// <summary>Every finite number &gt; 0.</summary>
    public static ValueRange Positive { get; } = new(0, double.PositiveInfinity, MinOpen: true);

    /// <summary>Every finite number ≥ <paramref name="min"/>.</summary>
    public static ValueRange AtLeast(double min, string? note = null) => new(min, double.PositiveInfinity, Note: note);

    /// <summary>[<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static ValueRange Between(double min, double max, string? note = null) => new(min, max, Note: note);

    /// <summary>Whether <paramref name="value"/> is finite and inside the range.</summary>
    public bool Contains(double value) =>
        double.IsFinite(value) && (MinOpen ? value > Min : value >= Min) && value <= Max;

    /// <summary>"≥ 1", "&gt; 0", "[1, 900]" or "(0, 1]", then the note in parentheses.</summary>
    public override string ToString()
    {
        string bounds = double.IsPositiveInfinity(Max)
            ? $"{(MinOpen ? ">" : "≥")} {Format(Min)}"
            : $"{(MinOpen ? "(" : "[")}{Format(Min)}, {Format(Max)}]";
        return Note is null ? bounds : $"{bounds} ({Note})";
    }

    /// <summary>The range after a noun: "≥ 1" or "in [1, 900] (...)" ("an integer ≥ 1", "a number in (0, 1]").</summary>
    public string Phrase => double.IsPositiveInfinity(Max) ? ToString() : $"in {this}";

    /// <summary>The range as a rule: "must be ≥ 1" or "must lie in (0, 1] (...)".</summary>
    public string Rule => double.IsPositiveInfinity(Max) ? $"must be {this}" : $"must lie in {this}";

    private static string Format(double x) => x.ToString(CultureInfo.InvariantCulture);
}
