// The check after every update that the policy is still a policy: its weights are finite, and a forward over
// one of the step's own sequences gives finite logits (weights can stay finite yet be so large that attention
// or the norms overflow, as with a learning rate of 1e10). It costs one pass over the weights and a forward of
// the step's shortest sequence, and it runs before any checkpoint can be written, so a checkpoint never holds a
// diverged policy.
using TltTrainer.Models;
using static TorchSharp.torch;

namespace TltTrainer.Rl;

internal static class PolicyHealth
{
    /// <summary>What is wrong with <paramref name="policy"/> after an update on <paramref name="batch"/>, or null when it is healthy.</summary>
    public static string? Problem(CausalLM policy, RlBatch batch)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (name, p) in policy.named_parameters())
            if (!p.isfinite().all().item<bool>()) return $"parameter {name} is no longer finite after the update";
        if (batch.Count == 0) return null;
        int shortest = Enumerable.Range(0, batch.Count).MinBy(i => batch.Prompts[i].Length + batch.Responses[i].Length);
        var ids = batch.Prompts[shortest].Concat(batch.Responses[shortest]).Select(t => (long)t).ToArray();
        var output = policy.Forward(tensor(ids, new long[] { 1, ids.Length }, device: policy.Device));
        return output.Logits!.isfinite().all().item<bool>() ? null : "a forward over one of the step's sequences gives non-finite logits after the update";
    }
}
