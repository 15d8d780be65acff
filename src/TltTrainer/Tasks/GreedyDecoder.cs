// A plain greedy, KV-cached generation loop: the reference the fast engines are checked against, and
// the evaluator of the embedded target. Prompts are prefilled together, right-padded, and each row's
// cache length is then set back to its own prompt length; decoding feeds one token per running row.
// Finished rows leave the batch (the last running rows move into their cache slots), so the long tail
// decodes at its true batch size instead of dragging finished rows along.
using TltTrainer.Models;
using static TorchSharp.torch;

namespace TltTrainer.Tasks;

/// <summary>Greedy (argmax) generation with a <see cref="KvCache"/>.</summary>
public static class GreedyDecoder
{
    /// <summary>
    /// Continues each prompt greedily until it emits <paramref name="eosId"/> or has <paramref name="maxNewTokens"/> new tokens.
    /// </summary>
    /// <param name="model">The model; its weights are not changed.</param>
    /// <param name="prompts">Prompt ids per request (each non-empty, e.g. starting with BOS).</param>
    /// <param name="maxNewTokens">Most tokens generated per request.</param>
    /// <param name="eosId">End-of-sequence id; included as the last generated id when emitted.</param>
    /// <param name="padId">Id used to right-pad the prefill batch.</param>
    /// <param name="cancellationToken">Checked before every decode step.</param>
    /// <returns>The generated ids of each request, in request order.</returns>
    /// <exception cref="ArgumentException">A prompt is empty.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public static IReadOnlyList<int[]> Generate(CausalLM model, IReadOnlyList<int[]> prompts, int maxNewTokens, int eosId,
        int padId = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentOutOfRangeException.ThrowIfNegative(maxNewTokens);
        if (prompts.Any(p => p.Length == 0)) throw new ArgumentException("Every prompt needs at least one token.", nameof(prompts));
        int B = prompts.Count;
        var generated = Enumerable.Range(0, B).Select(_ => new List<int>()).ToArray();
        if (B == 0 || maxNewTokens == 0) return generated.Select(g => g.ToArray()).ToArray();

        using var noGrad = no_grad();
        // CausalLM.DType/Device read a weight, which allocates a tensor handle: read them inside a scope.
        ScalarType dtype;
        Device device;
        using (NewDisposeScope()) (dtype, device) = (model.DType, model.Device);
        int longest = prompts.Max(p => p.Length);
        using var cache = new KvCache(model.Config, B, longest + maxNewTokens, dtype, device);
        long[] next = Prefill(model, prompts, cache, padId, device);
        var requestOfSlot = Enumerable.Range(0, B).ToList();   // cache row i holds request requestOfSlot[i]
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int running = 0;
            for (int slot = 0; slot < requestOfSlot.Count; slot++)
            {
                var tokens = generated[requestOfSlot[slot]];
                tokens.Add((int)next[slot]);
                if (next[slot] == eosId || tokens.Count >= maxNewTokens) continue;
                cache.MoveRow(slot, running);   // no-op when nothing before it finished
                requestOfSlot[running] = requestOfSlot[slot];
                next[running++] = next[slot];
            }
            requestOfSlot.RemoveRange(running, requestOfSlot.Count - running);
            if (running == 0) break;
            using var scope = NewDisposeScope();
            using var input = tensor(next.AsSpan(0, running).ToArray(), new long[] { running, 1 }, device: device);
            using var output = model.Forward(input, cache);
            next = output.Logits!.argmax(-1).reshape(-1).cpu().data<long>().ToArray();
        }
        return generated.Select(g => g.ToArray()).ToArray();
    }

    /// <summary>Runs all prompts in one right-padded forward; returns each row's first greedy token.</summary>
    private static long[] Prefill(CausalLM model, IReadOnlyList<int[]> prompts, KvCache cache, int padId, Device device)
    {
        using var scope = NewDisposeScope();
        int B = prompts.Count, T = prompts.Max(p => p.Length);
        var ids = new long[B * T];
        var last = new long[B];
        for (int b = 0; b < B; b++)
        {
            for (int t = 0; t < T; t++) ids[b * T + t] = t < prompts[b].Length ? prompts[b][t] : padId;
            last[b] = b * T + prompts[b].Length - 1;
        }
        var tokens = tensor(ids, new long[] { B, T }, device: device);
        using var output = model.Forward(tokens, cache, options: ForwardOptions.HiddenOnly);
        // Each row's last real prompt position; the padded tail's keys are stale once lengths move back.
        var hidden = output.Hidden.reshape(B * T, -1).index_select(0, tensor(last, device: device));
        for (int b = 0; b < B; b++) cache.SetLength(b, prompts[b].Length);
        return model.LmHead(hidden).argmax(-1).cpu().data<long>().ToArray();
    }
}
