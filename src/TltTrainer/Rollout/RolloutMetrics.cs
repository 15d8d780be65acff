namespace TltTrainer.Rollout;

/// <summary>Counters of one <see cref="RolloutEngine.Generate"/> call.</summary>
public sealed class RolloutMetrics
{
    /// <summary>Target forwards in the decode phase (plain steps plus verification rounds).</summary>
    public int DecodeSteps { get; set; }

    /// <summary>Of those, verification rounds with at least one drafted token.</summary>
    public int SpeculativeSteps { get; set; }

    /// <summary>Tokens generated in all.</summary>
    public long GeneratedTokens { get; set; }

    /// <summary>Draft tokens proposed.</summary>
    public long DraftedTokens { get; set; }

    /// <summary>Draft tokens accepted.</summary>
    public long AcceptedTokens { get; set; }

    /// <summary>Sum over speculative row-rounds of (accepted + 1).</summary>
    public long AcceptLengthSum { get; set; }

    /// <summary>Number of speculative row-rounds.</summary>
    public long SpeculativeRowRounds { get; set; }

    /// <summary>Mean tokens emitted per sequence per verification round (accepted + 1); 1 for plain decoding.</summary>
    public double MeanAcceptLength => SpeculativeRowRounds == 0 ? 1.0 : (double)AcceptLengthSum / SpeculativeRowRounds;

    /// <summary>
    /// Draws redone on the canonical path because they fell within the path tolerance of a decision boundary
    /// (<see cref="RolloutEngineOptions.PathTolerance"/>).
    /// </summary>
    public long CanonicalDraws { get; set; }

    /// <summary>Seconds spent prefilling prompts.</summary>
    public double PrefillSeconds { get; set; }

    /// <summary>Seconds spent drafting.</summary>
    public double DraftSeconds { get; set; }

    /// <summary>Seconds spent in target forwards of the decode phase (plain and verification).</summary>
    public double VerifySeconds { get; set; }

    /// <summary>Wall-clock seconds of the whole call.</summary>
    public double TotalSeconds { get; set; }

    /// <summary>Adaptive policy: steps per "bucket:arm".</summary>
    public Dictionary<string, long> ArmChoices { get; } = new();

    /// <summary>
    /// The rollout's course: a point at the first decode step and at every step whose running batch or arm differs from the
    /// step before (the arm is "plain" for plain decoding), and one at the end; seconds from the start of the call.
    /// </summary>
    public List<TimelinePoint> Timeline { get; } = new();

    /// <summary>Drafters that threw and were dropped (the rollout went on with plain decoding): "name.call: error".</summary>
    public List<string> DrafterFailures { get; } = new();

    /// <summary>Generated tokens per wall-clock second.</summary>
    public double TokensPerSecond => TotalSeconds <= 0 ? 0 : GeneratedTokens / TotalSeconds;
}

/// <summary>From <paramref name="Seconds"/> on, worker <paramref name="Worker"/> decoded <paramref name="RunningBatch"/> sequences with <paramref name="Arm"/>.</summary>
/// <param name="Worker">Rollout worker (0 for a single engine).</param>
/// <param name="Seconds">Seconds since the rollout started.</param>
/// <param name="RunningBatch">Sequences in the running batch (0 at the worker's end).</param>
/// <param name="Arm">The speculation arm, "plain" for plain decoding, "end" at the worker's end.</param>
public sealed record TimelinePoint(
    [property: System.Text.Json.Serialization.JsonPropertyName("w")] int Worker,
    [property: System.Text.Json.Serialization.JsonPropertyName("t")] double Seconds,
    [property: System.Text.Json.Serialization.JsonPropertyName("batch")] int RunningBatch,
    [property: System.Text.Json.Serialization.JsonPropertyName("arm")] string Arm);

/// <summary>Progress report after each decode step.</summary>
/// <param name="Finished">Sequences finished so far.</param>
/// <param name="Total">Sequences requested.</param>
/// <param name="Running">Sequences in the running batch.</param>
/// <param name="GeneratedTokens">Tokens generated so far.</param>
/// <param name="MeanAcceptLength">Mean accepted length so far.</param>
public sealed record RolloutProgress(int Finished, int Total, int Running, long GeneratedTokens, double MeanAcceptLength);
