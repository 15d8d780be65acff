// Trains the EAGLE drafter with the TLT loss: SmoothL1 between the predicted and the true next hidden
// state, plus 0.1 × soft cross-entropy between the drafter's next-token distribution (through the
// target's lm_head) and the target's own, on response pairs only; AdamW (0.9, 0.95), weight decay 0.01,
// gradient clip 1.0. The pairs are aligned exactly as drafting uses them, (x_{t+1}, h_t) → h_{t+1},
// through the same EagleDraftModel.Forward. The target's embedding and head are read detached: only the
// drafter's fc and layer learn.
using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Speculative;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TltTrainer.Drafting;

/// <summary>Loss and accuracy of one drafter step or evaluation.</summary>
/// <param name="Loss">Total loss (weighted SmoothL1 + soft cross-entropy).</param>
/// <param name="HiddenLoss">SmoothL1 part.</param>
/// <param name="TokenLoss">Soft cross-entropy part.</param>
/// <param name="Top1Accuracy">Share of trained pairs where the drafter's argmax equals the target's.</param>
/// <param name="Pairs">Trained pairs.</param>
public sealed record DrafterStepResult(double Loss, double HiddenLoss, double TokenLoss, double Top1Accuracy, int Pairs);

/// <summary>Offline (and, later, online) training of an <see cref="EagleDraftModel"/> against its target.</summary>
public sealed class DrafterTrainer : IDisposable
{
    private readonly CausalLM _target;
    private readonly EagleDraftModel _drafter;
    private readonly DrafterTrainingOptions _options;
    private readonly DrafterOptimizer _optimizer;
    private readonly Scalar _hiddenWeight, _tokenWeight, _one;       // held here: see DrafterOptimizer on implicit Scalars
    private int _step;

    /// <summary>Creates a trainer for <paramref name="drafter"/> (trained in place) against <paramref name="target"/> (never modified).</summary>
    public DrafterTrainer(CausalLM target, EagleDraftModel drafter, DrafterTrainingOptions? options = null)
    {
        _target = target;
        _drafter = drafter;
        _options = (options ?? new DrafterTrainingOptions()).Validate();
        _optimizer = new DrafterOptimizer(drafter.parameters(), _options.Beta1, _options.Beta2, _options.WeightDecay);
        (_hiddenWeight, _tokenWeight, _one) = (_options.HiddenLossWeight.ToScalar(), _options.TokenLossWeight.ToScalar(), 1.0.ToScalar());
    }

    /// <summary>Optimizer steps taken.</summary>
    public int Steps => _step;

    /// <summary>One optimizer step on <paramref name="batch"/>.</summary>
    public DrafterStepResult TrainStep(DrafterBatch batch)
    {
        using var scope = NewDisposeScope();
        _drafter.train();
        double warm = _options.WarmupSteps == 0 ? 1 : Math.Min(1.0, (_step + 1.0) / _options.WarmupSteps);
        _optimizer.LearningRate = _options.LearningRate * warm;
        _optimizer.ZeroGrad();
        var (loss, result) = Loss(batch);
        loss.backward();
        nn.utils.clip_grad_norm_(_drafter.parameters(), _options.ClipNorm);
        _optimizer.Step();
        _step++;
        return result;
    }

    /// <summary>Loss and top-1 accuracy on <paramref name="batch"/> without training.</summary>
    public DrafterStepResult Evaluate(DrafterBatch batch)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        _drafter.eval();
        return Loss(batch).Result;
    }

    private (Tensor Loss, DrafterStepResult Result) Loss(DrafterBatch batch)
    {
        Tensor embeds, targetLogProbs, targetArgmax;
        using (no_grad())
        {
            embeds = _target.Embed(batch.NextTokens).detach();
            var targetLogits = _target.LmHead(batch.TargetHidden);
            targetLogProbs = nn.functional.log_softmax(targetLogits, -1);
            targetArgmax = targetLogits.argmax(-1);
        }
        var predicted = _drafter.Forward(embeds, batch.Hidden, null, 0, batch.Positions, batch.Mask);        // [B, T, H]
        var mask = batch.LossMask;
        var pairs = mask.sum().clamp_min(_one);
        var hiddenLoss = (nn.functional.smooth_l1_loss(predicted.to(ScalarType.Float32), batch.TargetHidden.to(ScalarType.Float32),
            reduction: nn.Reduction.None).mean(new long[] { -1 }) * mask).sum() / pairs;
        var logits = nn.functional.linear(predicted, _target.LmHeadWeight.detach()).to(ScalarType.Float32);
        var logProbs = nn.functional.log_softmax(logits, -1);
        var tokenLoss = (-(targetLogProbs.exp() * logProbs).sum(-1) * mask).sum() / pairs;
        var loss = (hiddenLoss * _hiddenWeight).add(tokenLoss * _tokenWeight, Models.RootedScalars.One);
        var correct = (logits.argmax(-1).eq(targetArgmax).to(ScalarType.Float32) * mask).sum() / pairs;
        var result = new DrafterStepResult(loss.item<float>(), hiddenLoss.item<float>(), tokenLoss.item<float>(), correct.item<float>(),
            (int)mask.sum().item<float>());
        return (loss, result);
    }

    /// <summary>
    /// Builds training examples from finished trajectories by one target forward per sequence (offline: online training
    /// takes the hidden states the rollout already computed instead).
    /// </summary>
    public static List<DrafterExample> CollectExamples(CausalLM target, IEnumerable<Trajectory> trajectories, long step = 0)
    {
        var examples = new List<DrafterExample>();
        using var noGrad = no_grad();
        foreach (var t in trajectories)
        {
            if (t.ResponseTokens.Length == 0) continue;
            using var scope = NewDisposeScope();
            var tokens = t.PromptTokens.Concat(t.ResponseTokens).ToArray();
            using var output = target.Forward(tensor(tokens.Select(x => (long)x).ToArray()).view(1, -1).to(target.Device), options: ForwardOptions.HiddenOnly);
            var hidden = output.Hidden[0].clone().DetachFromDisposeScope();
            if (tokens.Length - 2 >= t.PromptTokens.Length - 1)
                examples.Add(new DrafterExample(tokens, hidden, t.PromptTokens.Length - 1, step));
            else hidden.Dispose();
        }
        return examples;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _optimizer.Dispose();
        foreach (var s in new[] { _hiddenWeight, _tokenWeight, _one }) s.Dispose();
    }
}
