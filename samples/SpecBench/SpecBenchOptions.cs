// Settings of one SpecBench run (SpecBenchCommandLine fills them from the flags).
namespace SpecBench;

/// <summary>Settings of one SpecBench run.</summary>
internal sealed record SpecBenchOptions
{
    /// <summary>Fewer repeats, shapes and tokens (a few minutes instead of tens).</summary>
    public bool Quick { get; init; }

    /// <summary>Also write every number to this JSON file, or null.</summary>
    public string? JsonPath { get; init; }

    /// <summary>Torch threads (default: every core).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Where the TinyStories-656K checkpoint is (DIR/models/tinystories-656k, DIR/tinystories-656k or DIR), or null to look above the repository root.</summary>
    public string? SharedDirectory { get; init; }

    /// <summary>Run only the real-scale benchmark (RealScaleBench).</summary>
    public bool RealScale { get; init; }

    /// <summary>With <see cref="RealScale"/>: a HuggingFace model folder instead of the random-weight Qwen2.5-0.5B shape, or null.</summary>
    public string? ModelDirectory { get; init; }

    /// <summary>The drafters to measure beside plain decoding (of <see cref="SpeculativeBench.DrafterNames"/>), or null for all.</summary>
    public IReadOnlyList<string>? Only { get; init; }

    /// <summary>The drafter study to run instead of the throughput tables (--adaptation, --tinystories-drafter, --positions), or null.</summary>
    public StudyOptions? Study { get; init; }
}
