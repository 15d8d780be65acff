using static TorchSharp.torch;

namespace TltTrainer.Drafting;

/// <summary>
/// One training sequence for the drafter: tokens <c>x_0..x_{L-1}</c> and the target's final hidden states
/// <c>h_0..h_{L-1}</c> (<c>[L, H]</c>, owned by this object). The drafter learns <c>(x_{t+1}, h_t) → h_{t+1}</c>;
/// the loss covers positions whose next token is a response token (<c>t ≥ LossStart</c>).
/// </summary>
public sealed class DrafterExample : IDisposable
{
    /// <summary>Creates an example; takes ownership of <paramref name="hidden"/>.</summary>
    /// <exception cref="ArgumentException">Lengths disagree or the loss range is empty.</exception>
    public DrafterExample(int[] tokens, Tensor hidden, int lossStart, long step = 0, int[]? context = null)
    {
        if (hidden.dim() != 2 || hidden.shape[0] != tokens.Length)
            throw new ArgumentException($"hidden must be [{tokens.Length}, H], got [{string.Join(", ", hidden.shape)}].", nameof(hidden));
        if (lossStart < 0 || lossStart > tokens.Length - 2)
            throw new ArgumentException($"lossStart = {lossStart} leaves no (x_t+1, h_t) → h_t+1 pair in {tokens.Length} tokens.", nameof(lossStart));
        Tokens = tokens;
        Hidden = hidden;
        LossStart = lossStart;
        Step = step;
        Context = context ?? Array.Empty<int>();
    }

    /// <summary>
    /// Tokens that came before <see cref="Tokens"/> in the sequence but whose hidden states were not captured (a rollout window
    /// holds the prompt's last position onward: the rest of the prompt is here). Empty for a whole sequence.
    /// </summary>
    public int[] Context { get; }

    /// <summary>Token ids <c>x_0..x_{L-1}</c>.</summary>
    public int[] Tokens { get; }

    /// <summary>Target final hidden states <c>[L, H]</c>.</summary>
    public Tensor Hidden { get; }

    /// <summary>First pair index t whose prediction is trained (prompt length − 1 for a whole trajectory).</summary>
    public int LossStart { get; }

    /// <summary>RL step that produced it (for buffers that prefer fresh data).</summary>
    public long Step { get; }

    /// <summary>Number of trained pairs.</summary>
    public int LossPairs => Tokens.Length - 1 - LossStart;

    /// <inheritdoc />
    public void Dispose() => Hidden.Dispose();
}
