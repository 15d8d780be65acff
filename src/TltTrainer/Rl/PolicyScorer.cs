// Per-token log-probabilities (and entropies) of response tokens under a model, computed by one full
// causal forward over right-padded prompt+response rows. This is the trainer's own computation: the
// update never consumes the rollout engine's log-probs, so a drafter can never bias training.
// Log-probs are those of the temperature-scaled softmax (no top-k/top-p truncation), the usual RL
// convention; with temperature 1 and no truncation they equal the rollout's to float precision.
using TltTrainer.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace TltTrainer.Rl;

/// <summary>Log-probs of a batch of responses: <c>[N, R]</c> tensors, R = longest response; owned, dispose after use.</summary>
public sealed class ScoredResponses : IDisposable
{
    /// <summary>Log-prob of each response token <c>[N, R]</c> float32 (0 at padding).</summary>
    public required Tensor LogProbs { get; init; }

    /// <summary>Entropy of the distribution at each response token <c>[N, R]</c> float32, or null when not requested.</summary>
    public Tensor? Entropy { get; init; }

    /// <summary>1 at response tokens, 0 at padding <c>[N, R]</c> float32.</summary>
    public required Tensor Mask { get; init; }

    /// <inheritdoc />
    public void Dispose()
    {
        LogProbs.Dispose();
        Entropy?.Dispose();
        Mask.Dispose();
    }
}

/// <summary>Computes response-token log-probs under a model.</summary>
public static class PolicyScorer
{
    /// <summary>Scores <paramref name="sequences"/> (prompt, response) in one forward; gradients flow unless called under no_grad.</summary>
    /// <param name="model">The model.</param>
    /// <param name="sequences">Prompt and response token ids per sequence; responses must be non-empty.</param>
    /// <param name="temperature">Softmax temperature (&gt; 0).</param>
    /// <param name="withEntropy">Also compute per-token entropy.</param>
    public static ScoredResponses Score(CausalLM model, IReadOnlyList<(IReadOnlyList<int> Prompt, IReadOnlyList<int> Response)> sequences,
        double temperature = 1.0, bool withEntropy = false)
    {
        if (sequences.Count == 0) throw new ArgumentException("no sequences to score.", nameof(sequences));
        if (!(temperature > 0)) throw new ArgumentException($"temperature = {temperature} must be > 0.", nameof(temperature));
        int n = sequences.Count;
        int longest = sequences.Max(s => s.Prompt.Count + s.Response.Count);
        int responseWidth = sequences.Max(s => s.Response.Count);
        var ids = new long[n * longest];
        var gatherAt = new long[n * responseWidth];
        var targets = new long[n * responseWidth];
        var mask = new float[n * responseWidth];
        for (int i = 0; i < n; i++)
        {
            var (prompt, response) = sequences[i];
            if (response.Count == 0) throw new ArgumentException($"sequence {i} has an empty response.", nameof(sequences));
            for (int t = 0; t < prompt.Count; t++) ids[i * longest + t] = prompt[t];
            for (int t = 0; t < response.Count; t++) ids[i * longest + prompt.Count + t] = response[t];
            for (int j = 0; j < responseWidth; j++)
            {
                bool valid = j < response.Count;
                gatherAt[i * responseWidth + j] = valid ? prompt.Count + j - 1 : prompt.Count - 1;
                targets[i * responseWidth + j] = valid ? response[j] : 0;
                mask[i * responseWidth + j] = valid ? 1f : 0f;
            }
        }
        using var scope = NewDisposeScope();
        var device = model.Device;
        var hidden = model.Forward(tensor(ids, new long[] { n, longest }, device: device), options: ForwardOptions.HiddenOnly).Hidden;
        var index = tensor(gatherAt, new long[] { n, responseWidth }, device: device);
        var picked = hidden.gather(1, index.unsqueeze(-1).expand(n, responseWidth, hidden.shape[2]));     // [N, R, H]
        using Scalar temperatureScalar = temperature.ToScalar();                                            // held until the op ran (see Models.RootedScalars)
        var logits = model.LmHead(picked).div(temperatureScalar);                                           // [N, R, V]
        var logp = nn.functional.log_softmax(logits, -1);
        var maskT = tensor(mask, new long[] { n, responseWidth }, device: device);
        var tokenLogp = logp.gather(2, tensor(targets, new long[] { n, responseWidth, 1 }, device: device)).squeeze(2) * maskT;
        Tensor? entropy = withEntropy ? (-(logp.exp() * logp).sum(-1) * maskT).MoveToOuterDisposeScope() : null;
        return new ScoredResponses { LogProbs = tokenLogp.MoveToOuterDisposeScope(), Entropy = entropy, Mask = maskT.MoveToOuterDisposeScope() };
    }
}
