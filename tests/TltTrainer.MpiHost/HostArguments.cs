// Command line of the MPI test host: a mode, then --name value pairs.
namespace TltTrainer.MpiHost;

internal sealed record HostArguments(string Mode, Dictionary<string, string> Values)
{
    public string Out => Values.TryGetValue("out", out var v) ? v : throw new ArgumentException("--out DIR is required.");

    public int Int(string name, int fallback) => Values.TryGetValue(name, out var v) ? int.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;

    public string? Text(string name) => Values.GetValueOrDefault(name);

    public bool Flag(string name) => Values.ContainsKey(name);

    public static HostArguments Parse(string[] args)
    {
        if (args.Length == 0) throw new ArgumentException("usage: TltTrainer.MpiHost collectives|train --out DIR [--name value ...]");
        var values = new Dictionary<string, string>();
        for (int i = 1; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"expected --name, got '{args[i]}'.");
            bool hasValue = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            values[args[i][2..]] = hasValue ? args[++i] : "true";
        }
        return new HostArguments(args[0], values);
    }
}
