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
    private readonly Optimization.RootedAdamW _optimizer;
    private readonly Scalar _hiddenWeight, _tokenWeight, _one, _two, _noise;       // held here: see Optimization.RootedAdamW on implicit Scalars
    private int _step, _scheduleStep;

    /// <summary>Creates a trainer for <paramref name="drafter"/> (trained in place) against <paramref name="target"/> (never modified).</summary>
    public DrafterTrainer(CausalLM target, EagleDraftModel drafter, DrafterTrainingOptions? options = null)
    {
        _target = target;
        _drafter = drafter;
        _options = (options ?? new DrafterTrainingOptions()).Validate();
        _optimizer = new Optimization.RootedAdamW(drafter.parameters(), _options.Beta1, _options.Beta2, _options.WeightDecay);
        (_hiddenWeight, _tokenWeight, _one) = (_options.HiddenLossWeight.ToScalar(), _options.TokenLossWeight.ToScalar(), 1.0.ToScalar());
        (_two, _noise) = (2.0.ToScalar(), _options.FeatureNoise.ToScalar());
    }

    /// <summary>Optimizer steps taken.</summary>
    public int Steps => _step;

    /// <summary>One optimizer step on <paramref name="batch"/>.</summary>
    public DrafterStepResult TrainStep(DrafterBatch batch)
    {
        using var scope = NewDisposeScope();
        _drafter.train();
        _optimizer.LearningRate = LearningRate(_scheduleStep);
        _optimizer.ZeroGrad();
        var (loss, result) = Loss(batch, training: true);
        loss.backward();
        nn.utils.clip_grad_norm_(_drafter.parameters(), _options.ClipNorm);
        _optimizer.Step();
        _step++;
        _scheduleStep++;
        return result;
    }

    /// <summary>The learning rate of schedule step <paramref name="step"/>: linear warm-up, then a cosine decay (if set), then its floor.</summary>
    public double LearningRate(int step)
    {
        double peak = _options.LearningRate;
        if (step < _options.WarmupSteps) return peak * (step + 1.0) / _options.WarmupSteps;
        if (_options.DecaySteps == 0) return peak;
        double progress = Math.Min(1.0, (step - _options.WarmupSteps) / (double)_options.DecaySteps);
        double floor = _options.MinLearningRateRatio;
        return peak * (floor + (1 - floor) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }

    /// <summary>Starts the learning-rate schedule over (warm-up, then decay): a warm restart; the optimizer's moments are kept.</summary>
    public void RestartSchedule() => _scheduleStep = 0;

    /// <summary>Loss and top-1 accuracy on <paramref name="batch"/> without training.</summary>
    public DrafterStepResult Evaluate(DrafterBatch batch)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        _drafter.eval();
        return Loss(batch).Result;
    }

    private (Tensor Loss, DrafterStepResult Result) Loss(DrafterBatch batch, bool training = false)
    {
        Tensor embeds, targetLogProbs, targetArgmax;
        using (no_grad())
        {
            embeds = _target.Embed(batch.NextTokens).detach();
            var targetLogits = _target.LmHead(batch.TargetHidden);
            targetLogProbs = nn.functional.log_softmax(targetLogits, -1);
            targetArgmax = targetLogits.argmax(-1);
        }
        // EAGLE's feature noise: uniform in [−a, a] on the input features, so the drafter learns to draft from imperfect ones.
        var features = training && _options.FeatureNoise > 0
            ? batch.Hidden + (rand_like(batch.Hidden) * _two - _one) * _noise
            : batch.Hidden;
        var predicted = _drafter.Forward(embeds, features, null, 0, batch.Positions, batch.Mask);        // [B, T, H]

        // Weighted SmoothL1 to the true next hidden state plus soft cross-entropy to the target's next-token distribution, over `mask`.
        (Tensor Loss, Tensor Hidden, Tensor Token, Tensor Correct, Tensor Pairs) StepLoss(Tensor output, Tensor mask)
        {
            var pairs = mask.sum().clamp_min(_one);
            var hiddenLoss = (nn.functional.smooth_l1_loss(output.to(ScalarType.Float32), batch.TargetHidden.to(ScalarType.Float32),
                reduction: nn.Reduction.None).mean(new long[] { -1 }) * mask).sum() / pairs;
            var logits = nn.functional.linear(output, _target.LmHeadWeight.detach()).to(ScalarType.Float32);
            var tokenLoss = (-(targetLogProbs.exp() * nn.functional.log_softmax(logits, -1)).sum(-1) * mask).sum() / pairs;
            var correct = (logits.argmax(-1).eq(targetArgmax).to(ScalarType.Float32) * mask).sum() / pairs;
            return ((hiddenLoss * _hiddenWeight).add(tokenLoss * _tokenWeight, _one), hiddenLoss, tokenLoss, correct, mask.sum());
        }

        var first = StepLoss(predicted, batch.LossMask);
        var loss = first.Loss;
        if (training && _options.UnrollSteps > 1)
        {
            // Steps 2..k of the chain on the drafter's own features, weighted UnrollDecay^(s − 1) (EAGLE-3: 0.8^i).
            var segmentEmbeds = new List<Tensor> { embeds };
            var segmentFeatures = new List<Tensor> { features };
            var segmentPositions = new List<Tensor> { batch.Positions };
            var previous = predicted;
            for (int step = 2; step <= _options.UnrollSteps; step++)
            {
                segmentEmbeds.Add(embeds);
                segmentFeatures.Add(DraftUnroll.ShiftFeatures(previous));
                segmentPositions.Add(batch.Positions);
                var (mask, valid) = DraftUnroll.Build(batch.Positions, step, embeds.device);
                var output = _drafter.Forward(cat(segmentEmbeds, 1), cat(segmentFeatures, 1), null, 0, cat(segmentPositions, 1), mask);
                previous = output.narrow(1, (step - 1) * embeds.shape[1], embeds.shape[1]);
                using Scalar weight = Math.Pow(_options.UnrollDecay, step - 1).ToScalar();
                loss = loss.add(StepLoss(previous, batch.LossMask * valid).Loss, weight);
            }
        }
        var result = new DrafterStepResult(loss.item<float>(), first.Hidden.item<float>(), first.Token.item<float>(), first.Correct.item<float>(),
            (int)first.Pairs.item<float>());
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
        foreach (var s in new[] { _hiddenWeight, _tokenWeight, _one, _two, _noise }) s.Dispose();
    }
}
