// The update phase of an RL step: recompute old (and reference) log-probs with the trainer's own forward,
// then PPO epochs over shuffled mini-batches, each a sum of micro-batch losses aggregated with the
// mini-batch's denominators (so accumulation equals one big batch), one clipped AdamW step per mini-batch.
// Data-parallel (several ranks): each rank holds a block of the step's sequences; the shuffle and the
// mini-batch cut are over global indices (every rank knows all response lengths), so a mini-batch holds
// the same sequences as in one process, and its token and sequence counts — the loss denominators — are
// global. Each rank backpropagates its part; the gradients are summed over the ranks (GradientAllReducer)
// before the clip and the step, so every replica takes the same step as one process would.
using TltTrainer.Distributed;
using TltTrainer.Models;
using TltTrainer.Rollout;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TltTrainer.Rl;

/// <summary>Results of one update phase.</summary>
internal sealed record UpdateStats(double Loss, double? Kl, double ClipFraction, double Entropy, double GradNorm, double LearningRate, int SkippedSteps);

internal sealed class PolicyUpdate : IDisposable
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

    /// <summary>The ranks sharing the update (single process by default).</summary>
    public ICommunicator Communicator
    {
        get => _communicator;
        set
        {
            _communicator = value;
            _reducer?.Dispose();
            _reducer = value.Size > 1 ? new GradientAllReducer(value, _policy.parameters()) : null;
        }
    }

    private ICommunicator _communicator = SingleProcessCommunicator.Instance;
    private GradientAllReducer? _reducer;

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
        if (oldLogProbs is null && !SinglePass && batch.Count > 0) throw new ArgumentNullException(nameof(oldLogProbs), "old log-probs are required unless the update is a single pass.");
        double lossSum = 0, klSum = 0, clipped = 0, tokens = 0, entropySum = 0, gradSum = 0, lr = 0;
        int steps = 0, skipped = 0;
        // Not HashCode.Combine: its seed is random per process, so another process (a resumed run, another rank) would shuffle differently.
        var rng = new Random(ShuffleSeed(_options.Seed, rlStep));
        // Global view: this rank's sequences are global indices [first, first + Count); every response length is known.
        var lengthsByRank = _communicator.AllGatherVariable<int>(batch.Responses.Select(r => r.Length).ToArray());
        int first = lengthsByRank.Take(_communicator.Rank).Sum(l => l.Length);
        var globalLengths = lengthsByRank.SelectMany(l => l).ToArray();
        for (int epoch = 0; epoch < _options.PpoEpochs; epoch++)
        {
            var order = Enumerable.Range(0, globalLengths.Length).OrderBy(_ => rng.Next()).ToArray();
            int perMini = (int)Math.Ceiling(order.Length / (double)_options.MiniBatchesPerEpoch);
            for (int m = 0; m * perMini < order.Length; m++)
            {
                // Gradient handles made by zero_grad, the clip and the optimizer step die with this scope
                // (otherwise one per parameter per step stays alive).
                using var miniScope = NewDisposeScope();
                var globalMini = order.Skip(m * perMini).Take(perMini).ToArray();
                var mini = globalMini.Where(i => i >= first && i < first + batch.Count).Select(i => i - first).ToArray();
                lr = SetLearningRate();
                _optimizer.zero_grad();
                double miniTokens = globalMini.Sum(i => globalLengths[i]), miniLoss = 0, miniKl = 0;
                double normalizer = _options.ConstantNormalizer ?? _options.Sampling.MaxNewTokens;
                if (mini.Length == 0 && _reducer is not null) BackwardZero();   // no data here: contribute zero gradients
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
                    var loss = LossAggregator.Aggregate(policyLoss.PerToken, scored.Mask, _options.Aggregation, miniTokens, globalMini.Length, normalizer);
                    if (refLogProbs is not null && _options.KlCoefficient > 0)
                    {
                        var kl = KlEstimates.PerToken(scored.LogProbs, refLogProbs.index_select(0, index).narrow(1, 0, width), _options.KlEstimator);
                        var klLoss = LossAggregator.Aggregate(kl, scored.Mask, LossAggregation.TokenMean, miniTokens, globalMini.Length, normalizer);
                        miniKl += klLoss.item<float>();
                        loss = loss + klLoss * _options.KlCoefficient;
                    }
                    loss.backward();
                    miniLoss += loss.item<float>();
                    clipped += policyLoss.ClippedLow + policyLoss.ClippedHigh + policyLoss.DualClipped;
                    tokens += policyLoss.Tokens;
                    entropySum += (scored.Entropy! * scored.Mask).sum().item<float>();
                }
                if (_reducer is not null)
                {
                    _reducer.AllReduce();
                    Span<double> sums = [miniLoss, miniKl];
                    _communicator.AllReduce(sums);
                    (miniLoss, miniKl) = (sums[0], sums[1]);
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
        if (_reducer is not null)
        {
            Span<double> sums = [clipped, tokens, entropySum];
            _communicator.AllReduce(sums);
            (clipped, tokens, entropySum) = (sums[0], sums[1], sums[2]);
        }
        return new UpdateStats(steps == 0 ? double.NaN : lossSum / steps, refLogProbs is null ? null : klSum / Math.Max(steps, 1),
            tokens == 0 ? 0 : clipped / tokens, tokens == 0 ? 0 : entropySum / tokens, steps == 0 ? double.NaN : gradSum / steps, lr, skipped);
    }

    public void Dispose() => _reducer?.Dispose();

    private static int ShuffleSeed(ulong seed, int rlStep)
    {
        ulong h = (seed ^ 0x9E3779B97F4A7C15UL) * 0xBF58476D1CE4E5B9UL + (ulong)rlStep;
        h = (h ^ (h >> 31)) * 0x94D049BB133111EBUL;
        return (int)((h ^ (h >> 29)) & int.MaxValue);
    }

    /// <summary>Creates zero gradients for every parameter (a rank without sequences in a mini-batch still joins the all-reduce).</summary>
    private void BackwardZero()
    {
        using var scope = NewDisposeScope();
        var zero = _policy.parameters().Where(p => p.requires_grad).Select(p => p.sum() * 0).Aggregate((a, b) => a + b);
        zero.backward();
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
