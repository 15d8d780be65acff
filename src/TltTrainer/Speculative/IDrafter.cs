// The contract between the rollout engine and a drafter. The engine owns the rows (running
// sequences) and tells the drafter when rows start, move and what the target computed for them; the
// drafter only proposes. Whatever it proposes, the verifier keeps the output exact, so a drafter can
// never change what is sampled, only how fast.
using TltTrainer.Sampling;

namespace TltTrainer.Speculative;

/// <summary>Proposes draft tokens for the running sequences.</summary>
public interface IDrafter : IDisposable
{
    /// <summary>Short name for metrics (e.g. <c>eagle</c>, <c>ngram</c>).</summary>
    string Name { get; }

    /// <summary>Prepares per-rollout state for up to <paramref name="rows"/> sequences of up to <paramref name="maxLength"/> tokens.</summary>
    void Begin(int rows, int maxLength);

    /// <summary>Row <paramref name="row"/> now holds a new sequence.</summary>
    void ResetRow(int row);

    /// <summary>The sequence in row <paramref name="from"/> moved to row <paramref name="to"/> (the running batch shrank).</summary>
    void MoveRow(int from, int to);

    /// <summary>Target hidden states for positions <c>[start, start + n)</c> of a row, <c>[n, H]</c>; valid only during the call.</summary>
    void Observe(int row, int start, TorchSharp.torch.Tensor hidden);

    /// <summary>
    /// One new hidden state for each of rows <c>[0, positions.Count)</c>: row r's state for position <c>positions[r]</c> is
    /// <c>hidden[r]</c> (<c>[B, H]</c>, valid only during the call). Called after every plain decode step; the default
    /// calls <see cref="Observe"/> per row, and a drafter that stores states overrides it with one batched copy.
    /// </summary>
    void ObserveStep(IReadOnlyList<int> positions, TorchSharp.torch.Tensor hidden)
    {
        for (int r = 0; r < positions.Count; r++)
        {
            using var row = hidden.narrow(0, r, 1);
            Observe(r, positions[r], row);
        }
    }

    /// <summary>Drafts for rows <c>[0, context.Rows)</c>.</summary>
    IReadOnlyList<DraftTree> Propose(DraftContext context);
}

/// <summary>What a drafter sees of the running batch when proposing.</summary>
public sealed class DraftContext
{
    /// <summary>Number of running rows.</summary>
    public required int Rows { get; init; }

    /// <summary>Per row: prompt + generated tokens; the last one is sampled but not yet fed to the target.</summary>
    public required IReadOnlyList<IReadOnlyList<int>> Tokens { get; init; }

    /// <summary>Per row: prompt length.</summary>
    public required IReadOnlyList<int> PromptLengths { get; init; }

    /// <summary>Per row: the request's sampling options.</summary>
    public required IReadOnlyList<SamplingOptions> Sampling { get; init; }

    /// <summary>Per row: the request's random stream (for sampled chains).</summary>
    public required IReadOnlyList<RequestRng> Rngs { get; init; }

    /// <summary>Per row: the token lists of the other requests of the same group (GRPO siblings), finished or running.</summary>
    public required IReadOnlyList<IReadOnlyList<IReadOnlyList<int>>> Siblings { get; init; }

    /// <summary>Draft shape for this round.</summary>
    public required SpecStrategy Strategy { get; init; }

    /// <summary>Per row: most tokens worth drafting along a path (the new tokens the row may still emit after its pending one,
    /// by its token budget and by its context); deeper nodes are cut.</summary>
    public required IReadOnlyList<int> MaxDraft { get; init; }

    /// <summary>
    /// Most nodes any row's draft may have this round: verification writes one cache slot per node into every row (smaller
    /// drafts are padded), so the row with the least room left bounds all of them. Nodes beyond it (in topological order)
    /// are cut. Default unlimited.
    /// </summary>
    public int MaxNodes { get; init; } = int.MaxValue;
}
