// A rollout window starts at the prompt's last position (the engine hands the hidden-state sink nothing
// earlier), but a serving drafter attends to every earlier pair too: the whole prompt, where the chain
// task's scratchpad copies its terms from. Training on the bare window taught the drafter a context it
// never serves with. WindowContext completes a window with its context's hidden states, from one forward
// of the target over the context (shared by the siblings of a GRPO group, which have the same prompt),
// run by the idle-compute trainer, never on the rollout's path. The completed example is the whole sequence
// up to the window's end (hidden states equal to a full forward's up to rounding), with the loss on the
// window's pairs only: the context is attended to, not trained (a long response's early part stays out).
using TltTrainer.Models;
using static TorchSharp.torch;

namespace TltTrainer.Drafting;

/// <summary>Completes buffer windows with the hidden states of the context before them.</summary>
internal static class WindowContext
{
    /// <summary>
    /// New examples (owned by the caller) for <paramref name="windows"/> (unchanged): a window whose context is non-empty and at most
    /// <paramref name="maxContext"/> tokens becomes context + window, its loss range shifted; any other window is copied as it is.
    /// </summary>
    public static List<DrafterExample> Complete(CausalLM target, IReadOnlyList<DrafterExample> windows, int maxContext)
    {
        var completed = new List<DrafterExample>(windows.Count);
        try
        {
            foreach (var group in windows.GroupBy(w => w.Context.Length > 0 && w.Context.Length <= maxContext ? string.Join(",", w.Context) : ""))
            {
                using var scope = NewDisposeScope();
                var context = group.Key.Length == 0 ? null : Hidden(target, group.First().Context);
                foreach (var w in group)
                {
                    var hidden = context is null ? w.Hidden.clone() : cat(new[] { context, w.Hidden.to(context.dtype) }, 0);
                    completed.Add(context is null
                        ? new DrafterExample(w.Tokens, hidden.DetachFromDisposeScope(), w.LossStart, w.Step, w.Context)
                        : new DrafterExample(w.Context.Concat(w.Tokens).ToArray(), hidden.DetachFromDisposeScope(), w.Context.Length + w.LossStart, w.Step));
                }
            }
            return completed;
        }
        catch
        {
            foreach (var e in completed) e.Dispose();
            throw;
        }
    }

    /// <summary>The target's final hidden states of <paramref name="context"/> <c>[C, H]</c>, in the caller's dispose scope.</summary>
    private static Tensor Hidden(CausalLM target, int[] context)
    {
        using var noGrad = no_grad();
        var output = target.Forward(tensor(context.Select(t => (long)t).ToArray(), device: target.Device).view(1, -1), options: ForwardOptions.HiddenOnly);
        return output.Hidden[0];
    }
}
