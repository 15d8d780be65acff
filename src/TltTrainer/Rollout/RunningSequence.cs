using TltTrainer.Sampling;
namespace TltTrainer.Rollout;

/// <summary>Engine-side state of one running request (internal bookkeeping).</summary>
internal sealed class RunningSequence
{
    public RunningSequence(int order, RolloutRequest request)
    {
        Order = order;
        Request = request;
        Tokens = new List<int>(request.PromptTokens);
        PromptLength = request.PromptTokens.Count;
        Rng = new RequestRng(request.Sampling.Seed);
    }

    public int Order { get; }
    public RolloutRequest Request { get; }
    /// <summary>Prompt + generated; the last token is sampled but not yet fed to the target (cache length = Count − 1).</summary>
    public List<int> Tokens { get; }
    public int PromptLength { get; }
    public List<float> LogProbs { get; } = new();
    /// <summary>The random stream of the rejection and children-first verification rules (plain sampling uses <see cref="NoiseAt"/>).</summary>
    public RequestRng Rng { get; }

    /// <summary>The request's sampling noise for the token at sequence position <paramref name="position"/>.</summary>
    public SamplingNoise NoiseAt(int position) => new(Request.Sampling.Seed, position);
    public FinishReason? Finish { get; set; }
    public int VerifyRounds { get; set; }
    public int Drafted { get; set; }
    public int Accepted { get; set; }
    public int Generated => Tokens.Count - PromptLength;
    public SamplingOptions Sampling => Request.Sampling;

    /// <summary>Appends a generated token and decides whether the sequence ends with it.</summary>
    /// <returns>True while the sequence goes on.</returns>
    public bool Append(int token, float logProb, int capacity)
    {
        Tokens.Add(token);
        LogProbs.Add(logProb);
        if (Sampling.StopTokens.Contains(token)) Finish = FinishReason.Stop;
        else if (Generated >= Sampling.MaxNewTokens) Finish = FinishReason.Length;
        else if (Tokens.Count >= capacity) Finish = FinishReason.ContextFull;
        return Finish is null;
    }

    public Trajectory ToTrajectory() => new(Request.Id, Request.GroupId, Request.PromptTokens.ToArray(),
        Tokens.Skip(PromptLength).ToArray(), LogProbs.ToArray(), Finish ?? FinishReason.Length, VerifyRounds, Drafted, Accepted);
}
