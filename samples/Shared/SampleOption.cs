// Typed System.CommandLine options with the behaviour all four samples share: the default and the accepted
// range in --help, a value checked as it is parsed with the flag named in the error ("--steps must be an
// integer ≥ 1, not '0'."), numbers read in the invariant culture (3e-5 and 0.5 everywhere), and a repeated
// flag's last value winning, so a script can append an override to a fixed argument list (every occurrence
// is still checked).
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace TltTrainer.Samples;

/// <summary>Factories for the samples' command-line options.</summary>
internal static class SampleOption
{
    private delegate bool TryParse<T>(string token, out T value);

    /// <summary>An integer flag such as <c>--steps N</c>.</summary>
    public static Option<int> Int(string name, string description, int defaultValue, ValueRange range, string helpName = "N") =>
        Create(name, $"{description} Range: {range}.", helpName, $"an integer {range.Phrase}", defaultValue,
            (string token, out int value) => int.TryParse(token, NumberStyles.Integer, CultureInfo.InvariantCulture, out value) && range.Contains(value));

    /// <summary>A floating-point flag such as <c>--lr X</c>; NaN and infinities are refused.</summary>
    public static Option<double> Number(string name, string description, double defaultValue, ValueRange range, string helpName = "X") =>
        Create(name, $"{description} Range: {range}.", helpName, $"a number {range.Phrase}", defaultValue,
            (string token, out double value) => double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && range.Contains(value));

    /// <summary>A seed flag (any unsigned 64-bit integer).</summary>
    public static Option<ulong> Seed(string name, string description, ulong defaultValue) =>
        Create(name, description, "S", "a non-negative integer", defaultValue,
            (string token, out ulong value) => ulong.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out value));

    /// <summary>A flag with one of a few named values (<c>--tlt on|off</c>), kept as the name; the caller maps it.</summary>
    public static Option<string> Choice(string name, string description, string defaultValue, params string[] names)
    {
        string expected = names.Length == 1 ? names[0] : $"{string.Join(", ", names[..^1])} or {names[^1]}";
        return Create(name, description, string.Join('|', names), expected, defaultValue,
            (string token, out string value) => names.Contains(value = token));
    }

    /// <summary>A text flag such as <c>--out DIR</c>: with a default, without one (null when absent), or required.</summary>
    public static Option<string?> Text(string name, string description, string helpName, string? defaultValue = null, bool required = false)
    {
        var option = Create<string?>(name, description, helpName, "", defaultValue, (string token, out string? value) => (value = token) is not null);
        if (defaultValue is null) option.DefaultValueFactory = null;
        option.Required = required;
        return option;
    }

    /// <summary>A switch without a value (<c>--plain</c>); repeating it is harmless.</summary>
    public static Option<bool> Flag(string name, string description) =>
        new(name) { Description = description, Arity = ArgumentArity.Zero };

    private static Option<T> Create<T>(string name, string description, string helpName, string expected, T defaultValue, TryParse<T> tryParse) =>
        new(name)
        {
            Description = description,
            HelpName = helpName,
            DefaultValueFactory = _ => defaultValue,
            // One or more occurrences, one value each (a second value after one flag is still an unknown token).
            Arity = ArgumentArity.OneOrMore,
            CustomParser = result =>
            {
                T value = defaultValue;
                foreach (var token in result.Tokens)
                {
                    if (tryParse(token.Value, out value)) continue;
                    result.AddError($"{name} must be {expected}, not '{token.Value}'.");
                    return defaultValue;
                }
                return value;
            },
        };
}
