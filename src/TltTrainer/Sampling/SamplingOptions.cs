namespace TltTrainer.Sampling;

/// <summary>How one request is sampled. Validated by <see cref="Validate"/>; the engine validates every request.</summary>
public sealed record SamplingOptions
{
    /// <summary>Softmax temperature; 0 means greedy (argmax). Default 1.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Keep only the k most likely tokens; 0 disables. Default 0.</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set of most likely tokens whose probability reaches p; 1 disables. Default 1.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Most tokens generated for the request. Default 256.</summary>
    public int MaxNewTokens { get; init; } = 256;

    /// <summary>Token ids that end the response (included in it). Default none.</summary>
    public IReadOnlySet<int> StopTokens { get; init; } = new HashSet<int>();

    /// <summary>Seed of the request's own random stream; the same seed gives the same tokens. Default 0.</summary>
    public ulong Seed { get; init; }

    /// <summary>Whether decoding is greedy.</summary>
    public bool IsGreedy => Temperature == 0;

    /// <summary>Greedy decoding with the given limits.</summary>
    public static SamplingOptions Greedy(int maxNewTokens, IReadOnlySet<int>? stopTokens = null) =>
        new() { Temperature = 0, MaxNewTokens = maxNewTokens, StopTokens = stopTokens ?? new HashSet<int>() };

    /// <summary>Throws <see cref="ArgumentException"/> naming the field when a value is out of range.</summary>
    public SamplingOptions Validate()
    {
        if (!(Temperature >= 0) || double.IsInfinity(Temperature)) throw new ArgumentException($"Temperature = {Temperature} must be finite and ≥ 0.", nameof(Temperature));
        if (TopK < 0) throw new ArgumentException($"TopK = {TopK} must be ≥ 0 (0 disables).", nameof(TopK));
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"TopP = {TopP} must lie in (0, 1].", nameof(TopP));
        if (MaxNewTokens < 1) throw new ArgumentException($"MaxNewTokens = {MaxNewTokens} must be ≥ 1.", nameof(MaxNewTokens));
        return this;
    }
}
