// The update phase of an RL step: recompute old (and reference) log-probs with the trainer's own forward,
// then PPO epochs over shuffled mini-batches, each a sum of micro-batch losses aggregated with the
// mini-batch's denominators (so accumulation equals one big batch), one clipped AdamW step per mini-batch.
using TltTrainer.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TltTrainer.Rl;

/// <summary>Results of one update phase.</summary>
internal sealed record UpdateStats(double Loss, double? Kl, double ClipFraction, double Entropy, double GradNorm, double LearningRate, int SkippedSteps);

internal sealed class PolicyUpdate
{
    private readonly CausalLM _policy;
    private readonly CausalLM? _reference;
    private readonly OptimizerHelper _optimizer;
    private readonly RlTrainerOptions _options;

    public PolicyUpdate(CausalLM policy, CausalLM? reference, OptimizerHelper optimizer, RlTrainerOptions options)
    {
        _policy = policy;
        _reference = reference;
        _optimizer = optimizer;
        _options = options;
    }

    public int OptimizerSteps { get; set; }

    /// <summary>Log-probs <c>[N, R]</c> of every sequence under <paramref name="model"/>, computed in length-sorted micro-batches without grad (rows padded to the batch's R).</summary>
    public Tensor ScoreAll(CausalLM model, RlBatch batch)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int width = batch.Responses.Max(r => r.Length);
        var result = zeros(batch.Count, width, device: model.Device);
        foreach (var micro in Plan(Enumerable.Range(0, batch.Count).ToArray(), batch))
        {
            using var scored = PolicyScorer.Score(model, batch.Pairs(micro), _options.Sampling.Temperature);
            var rows = nn.functional.pad(scored.LogProbs, new long[] { 0, width - scored.LogProbs.shape[1] });
            result.index_copy_(0, tensor(micro.Select(i => (long)i).ToArray(), device: model.Device), rows);
        }
        return result.MoveToOuterDisposeScope();
    }

    private IReadOnlyList<int[]> Plan(IReadOnlyList<int> indices, RlBatch batch) =>
        MicroBatchPlan.Plan(indices, i => batch.Prompts[i].Length + batch.Responses[i].Length, _options.MicroBatchSize, _options.MicroBatchTokens);

    /// <summary>
    /// True when the update makes a single pass (one epoch, one mini-batch): the policy is still the
    /// rollout policy when each token is scored, so the old log-probs are the update forward's own values,
    /// detached, and the separate old-log-prob forward can be skipped (ratio exactly 1).
    /// </summary>
    public bool SinglePass => _options.PpoEpochs == 1 && _options.MiniBatchesPerEpoch == 1;

    /// <summary>Runs the PPO epochs.</summary>
    /// <param name="batch">The step's data.</param>
    /// <param name="oldLogProbs">Old log-probs <c>[N, R]</c>, or null in a <see cref="SinglePass"/> update (taken from the update forward).</param>
    /// <param name="refLogProbs">Reference log-probs for the KL term, or null.</param>
    /// <param name="rlStep">RL step (seeds the mini-batch shuffle).</param>
    /// <param name="scoredOut">When not null, <c>[N, R]</c> receives the first epoch's log-probs (for the on-policy gap check).</param>
    public UpdateStats Run(RlBatch batch, Tensor? oldLogProbs, Tensor? refLogProbs, int rlStep, Tensor? scoredOut = null)
    {
        if (oldLogProbs is null && !SinglePass) throw new ArgumentNullException(nameof(oldLogProbs), "old log-probs are required unless the update is a single pass.");
        double lossSum = 0, klSum = 0, clipped = 0, tokens = 0, entropySum = 0, gradSum = 0, lr = 0;
        int steps = 0, skipped = 0;
        var rng = new Random(HashCode.Combine(_options.Seed, rlStep));
        for (int epoch = 0; epoch < _options.PpoEpochs; epoch++)
        {
            var order = Enumerable.Range(0, batch.Count).OrderBy(_ => rng.Next()).ToArray();
            int perMini = (int)Math.Ceiling(order.Length / (double)_options.MiniBatchesPerEpoch);
            for (int m = 0; m * perMini < order.Length; m++)
            {
                // Gradient handles made by zero_grad, the clip and the optimizer step die with this scope
                // (otherwise one per parameter per step stays alive).
                using var miniScope = NewDisposeScope();
                var mini = order.Skip(m * perMini).Take(perMini).ToArray();
                lr = SetLearningRate();
                _optimizer.zero_grad();
                double miniTokens = mini.Sum(i => batch.Responses[i].Length), miniLoss = 0, miniKl = 0;
                double normalizer = _options.ConstantNormalizer ?? _options.Sampling.MaxNewTokens;
                foreach (var micro in Plan(mini, batch))
                {
                    using var scope = NewDisposeScope();
                    using var scored = PolicyScorer.Score(_policy, batch.Pairs(micro), _options.Sampling.Temperature, withEntropy: true);
                    long width = scored.LogProbs.shape[1];
                    var device = scored.LogProbs.device;
                    var index = tensor(micro.Select(i => (long)i).ToArray(), device: device);
                    var old = oldLogProbs is null ? scored.LogProbs.detach() : oldLogProbs.index_select(0, index).narrow(1, 0, width);
                    if (epoch == 0 && scoredOut is not null)
                        using (no_grad()) scoredOut.narrow(1, 0, width).index_copy_(0, index, scored.LogProbs.detach());
                    var adv = tensor(micro.Select(i => (float)batch.Advantages[i]).ToArray(), device: device);
                    var policyLoss = _options.Objective.Compute(scored.LogProbs, old, adv, scored.Mask);
                    var loss = LossAggregator.Aggregate(policyLoss.PerToken, scored.Mask, _options.Aggregation, miniTokens, mini.Length, normalizer);
                    if (refLogProbs is not null && _options.KlCoefficient > 0)
                    {
                        var kl = KlEstimates.PerToken(scored.LogProbs, refLogProbs.index_select(0, index).narrow(1, 0, width), _options.KlEstimator);
                        var klLoss = LossAggregator.Aggregate(kl, scored.Mask, LossAggregation.TokenMean, miniTokens, mini.Length, normalizer);
                        miniKl += klLoss.item<float>();
                        loss = loss + klLoss * _options.KlCoefficient;
                    }
                    loss.backward();
                    miniLoss += loss.item<float>();
                    clipped += policyLoss.ClippedLow + policyLoss.ClippedHigh + policyLoss.DualClipped;
                    tokens += policyLoss.Tokens;
                    entropySum += (scored.Entropy! * scored.Mask).sum().item<float>();
                }
                double gradNorm = nn.utils.clip_grad_norm_(_policy.parameters(), _options.ClipGradNorm);
                if (!double.IsFinite(miniLoss) || !double.IsFinite(gradNorm))
                {
                    if (_options.NonFinite == NonFiniteLossPolicy.Stop)
                        throw new InvalidOperationException($"RL step {rlStep}: non-finite loss ({miniLoss}) or gradient norm ({gradNorm}) in epoch {epoch}, mini-batch {m}.");
                    _optimizer.zero_grad();
                    skipped++;
                    continue;
                }
                _optimizer.step();
                OptimizerSteps++;
                lossSum += miniLoss;
                klSum += miniKl;
                gradSum += gradNorm;
                steps++;
            }
        }
        return new UpdateStats(steps == 0 ? double.NaN : lossSum / steps, refLogProbs is null ? null : klSum / Math.Max(steps, 1),
            tokens == 0 ? 0 : clipped / tokens, tokens == 0 ? 0 : entropySum / tokens, steps == 0 ? double.NaN : gradSum / steps, lr, skipped);
    }

    private double SetLearningRate()
    {
        int s = OptimizerSteps;
        double factor = _options.WarmupSteps > 0 && s < _options.WarmupSteps ? (s + 1.0) / _options.WarmupSteps : 1.0;
        if (_options.Schedule == LearningRateSchedule.Cosine && s >= _options.WarmupSteps)
        {
            double progress = Math.Min(1.0, (s - _options.WarmupSteps) / (double)Math.Max(1, _options.TotalSteps - _options.WarmupSteps));
            factor = _options.MinLearningRateFraction + (1 - _options.MinLearningRateFraction) * 0.5 * (1 + Math.Cos(Math.PI * progress));
        }
        double lr = _options.LearningRate * factor;
        foreach (var group in _optimizer.ParamGroups) group.LearningRate = lr;
        return lr;
    }
}
