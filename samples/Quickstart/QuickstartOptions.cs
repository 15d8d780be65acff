namespace Quickstart;

/// <summary>Command-line options of the Quickstart.</summary>
internal sealed record QuickstartOptions(int Steps, ulong Seed, string OutputDirectory, string? JsonPath, bool Tlt, bool Compare)
{
    public static QuickstartOptions Parse(string[] args)
    {
        var o = new QuickstartOptions(12, 1, "tlt-quickstart", null, true, false);
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            o = args[i] switch
            {
                "--steps" => o with { Steps = int.TryParse(Value(), out var s) && s > 0 ? s : throw new ArgumentException("--steps must be a positive integer.") },
                "--seed" => o with { Seed = ulong.TryParse(Value(), out var seed) ? seed : throw new ArgumentException("--seed must be a non-negative integer.") },
                "--out" => o with { OutputDirectory = Value() },
                "--json" => o with { JsonPath = Value() },
                "--tlt" => o with { Tlt = Value() switch { "on" => true, "off" => false, var v => throw new ArgumentException($"--tlt must be on or off, not '{v}'.") } },
                "--compare" => o with { Compare = true },
                var unknown => throw new ArgumentException($"unknown option '{unknown}'; valid: --steps N, --seed S, --out DIR, --json FILE, --tlt on|off, --compare."),
            };
        }
        return o;
    }
}
