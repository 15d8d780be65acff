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
using TltTrainer.Optimization;
using TltTrainer.Rollout;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TltTrainer.Rl;

/// <summary>Results of one update phase.</summary>
internal sealed record UpdateStats(double Loss, double? Kl, double ClipFraction, double Entropy, double GradNorm, double LearningRate, int SkippedSteps,
    double ZeroAdvantageTokenShare);

internal sealed class PolicyUpdate : IDisposable
{
    private readonly CausalLM _policy;
    private readonly CausalLM? _reference;
    private readonly RootedAdamW _optimizer;
    private readonly RlTrainerOptions _options;

    public PolicyUpdate(CausalLM policy, CausalLM? reference, RootedAdamW optimizer, RlTrainerOptions options)
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
        var inputs = new UpdateInputs(batch, oldLogProbs, refLogProbs, scoredOut, GlobalLayout(batch));
        var totals = new UpdateTotals();
        // Not HashCode.Combine: its seed is random per process, so another process (a resumed run, another rank) would shuffle differently.
        var rng = new Random(ShuffleSeed(_options.Seed, rlStep));
        for (int epoch = 0; epoch < _options.PpoEpochs; epoch++)
            foreach (var (index, globalMini) in MiniBatches(inputs.Layout.Lengths.Length, rng).Select((m, k) => (k, m)))
                MiniBatchStep(inputs, new MiniBatchId(rlStep, epoch, index), globalMini, totals);
        if (_reducer is not null)
        {
            Span<double> sums = [totals.Clipped, totals.Tokens, totals.EntropySum, totals.LeftOutTokens, totals.AllTokens];
            _communicator.AllReduce(sums);
            (totals.Clipped, totals.Tokens, totals.EntropySum, totals.LeftOutTokens, totals.AllTokens) = (sums[0], sums[1], sums[2], sums[3], sums[4]);
        }
        return totals.Stats(withKl: refLogProbs is not null);
    }

    /// <summary>What every phase of an update reads: the data, old/reference log-probs, and where this rank's rows sit globally.</summary>
    private sealed record UpdateInputs(RlBatch Batch, Tensor? Old, Tensor? Reference, Tensor? ScoredOut, GlobalRows Layout);

    /// <summary>This rank's sequences are global indices [First, First + Count); every rank's response lengths, in rank order.</summary>
    private sealed record GlobalRows(int First, int Count, int[] Lengths);

    /// <summary>Which mini-batch of an update: for messages.</summary>
    private readonly record struct MiniBatchId(int RlStep, int Epoch, int Index);

    /// <summary>One micro-batch's contribution to its mini-batch.</summary>
    private readonly record struct MicroResult(double Loss, double Kl);

    /// <summary>The update's running sums.</summary>
    private sealed class UpdateTotals
    {
        public double LossSum, KlSum, Clipped, Tokens, EntropySum, GradSum, LearningRate, LeftOutTokens, AllTokens;
        public int Steps, Skipped;

        public UpdateStats Stats(bool withKl) => new(Steps == 0 ? double.NaN : LossSum / Steps, withKl ? KlSum / Math.Max(Steps, 1) : null,
            Tokens == 0 ? 0 : Clipped / Tokens, Tokens == 0 ? 0 : EntropySum / Tokens, Steps == 0 ? double.NaN : GradSum / Steps, LearningRate, Skipped,
            AllTokens == 0 ? 0 : LeftOutTokens / AllTokens);
    }

    private GlobalRows GlobalLayout(RlBatch batch)
    {
        var lengthsByRank = _communicator.AllGatherVariable<int>(batch.Responses.Select(r => r.Length).ToArray());
        return new GlobalRows(lengthsByRank.Take(_communicator.Rank).Sum(l => l.Length), batch.Count, lengthsByRank.SelectMany(l => l).ToArray());
    }

    /// <summary>An epoch's mini-batches: a seeded shuffle of the global indices cut into <see cref="RlTrainerOptions.MiniBatchesPerEpoch"/> parts.</summary>
    private IEnumerable<int[]> MiniBatches(int count, Random rng)
    {
        var order = Enumerable.Range(0, count).OrderBy(_ => rng.Next()).ToArray();
        int perMini = (int)Math.Ceiling(order.Length / (double)_options.MiniBatchesPerEpoch);
        for (int m = 0; m * perMini < order.Length; m++) yield return order.Skip(m * perMini).Take(perMini).ToArray();
    }

    /// <summary>One clipped AdamW step on a mini-batch: the sum of its micro-batches' losses (with the mini-batch's global denominators).</summary>
    private void MiniBatchStep(UpdateInputs inputs, MiniBatchId id, int[] globalMini, UpdateTotals totals)
    {
        // Gradient handles made by zero_grad, the clip and the optimizer step die with this scope
        // (otherwise one per parameter per step stays alive).
        using var miniScope = NewDisposeScope();
        var layout = inputs.Layout;
        var mini = globalMini.Where(i => i >= layout.First && i < layout.First + layout.Count).Select(i => i - layout.First).ToArray();
        bool hadSequences = mini.Length > 0;
        if (SkipsZeroAdvantage(inputs))
        {
            // No loss and no gradient from these sequences: leaving them out keeps the step (the denominators below still count them).
            var kept = mini.Where(i => inputs.Batch.Advantages[i] != 0).ToArray();
            if (id.Epoch == 0)
            {
                totals.LeftOutTokens += mini.Except(kept).Sum(i => inputs.Batch.Responses[i].Length);
                totals.AllTokens += mini.Sum(i => inputs.Batch.Responses[i].Length);
            }
            mini = kept;
        }
        totals.LearningRate = SetLearningRate();
        _optimizer.ZeroGrad();
        double miniTokens = globalMini.Sum(i => layout.Lengths[i]), miniLoss = 0, miniKl = 0;
        // No data here (or only sequences left out): zero gradients, as their backward would give. Other ranks need them for the
        // all-reduce, and AdamW must still take its step (its moments decay), exactly as without leaving anything out.
        if (mini.Length == 0 && (_reducer is not null || hadSequences)) BackwardZero();
        foreach (var micro in Plan(mini, inputs.Batch))
        {
            var result = MicroBatchBackward(inputs, micro, id.Epoch, miniTokens, globalMini.Length, totals);
            miniLoss += result.Loss;
            miniKl += result.Kl;
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
                throw new InvalidOperationException($"RL step {id.RlStep}: non-finite loss ({miniLoss}) or gradient norm ({gradNorm}) in epoch {id.Epoch}, mini-batch {id.Index}.");
            _optimizer.ZeroGrad();
            totals.Skipped++;
            return;
        }
        _optimizer.Step();
        OptimizerSteps++;
        totals.LossSum += miniLoss;
        totals.KlSum += miniKl;
        totals.GradSum += gradNorm;
        totals.Steps++;
    }

    /// <summary>Whether sequences with advantage 0 can be left out without changing the step (see <see cref="RlTrainerOptions.SkipZeroAdvantageSequences"/>).</summary>
    private bool SkipsZeroAdvantage(UpdateInputs inputs) =>
        _options.SkipZeroAdvantageSequences && _options.Objective.VanishesAtZeroAdvantage && (inputs.Reference is null || _options.KlCoefficient == 0);

    /// <summary>Forward and backward of one micro-batch: policy objective (plus KL), aggregated with the mini-batch's denominators.</summary>
    private MicroResult MicroBatchBackward(UpdateInputs inputs, int[] micro, int epoch, double miniTokens, int miniSequences, UpdateTotals totals)
    {
        using var scope = NewDisposeScope();
        var batch = inputs.Batch;
        double normalizer = _options.ConstantNormalizer ?? _options.Sampling.MaxNewTokens;
        using var scored = PolicyScorer.Score(_policy, batch.Pairs(micro), _options.Sampling.Temperature, withEntropy: true);
        long width = scored.LogProbs.shape[1];
        var device = scored.LogProbs.device;
        var index = tensor(micro.Select(i => (long)i).ToArray(), device: device);
        var old = inputs.Old is null ? scored.LogProbs.detach() : inputs.Old.index_select(0, index).narrow(1, 0, width);
        if (epoch == 0 && inputs.ScoredOut is not null)
            using (no_grad()) inputs.ScoredOut.narrow(1, 0, width).index_copy_(0, index, scored.LogProbs.detach());
        var adv = tensor(micro.Select(i => (float)batch.Advantages[i]).ToArray(), device: device);
        var policyLoss = _options.Objective.Compute(scored.LogProbs, old, adv, scored.Mask);
        var loss = LossAggregator.Aggregate(policyLoss.PerToken, scored.Mask, _options.Aggregation, miniTokens, miniSequences, normalizer);
        double kl = 0;
        if (inputs.Reference is not null && _options.KlCoefficient > 0)
        {
            var perToken = KlEstimates.PerToken(scored.LogProbs, inputs.Reference.index_select(0, index).narrow(1, 0, width), _options.KlEstimator);
            var klLoss = LossAggregator.Aggregate(perToken, scored.Mask, LossAggregation.TokenMean, miniTokens, miniSequences, normalizer);
            kl = klLoss.item<float>();
            loss = loss + klLoss * _options.KlCoefficient;
        }
        loss.backward();
        totals.Clipped += policyLoss.ClippedLow + policyLoss.ClippedHigh + policyLoss.DualClipped;
        totals.Tokens += policyLoss.Tokens;
        totals.EntropySum += (scored.Entropy! * scored.Mask).sum().item<float>();
        return new MicroResult(loss.item<float>(), kl);
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
        _optimizer.LearningRate = lr;
        return lr;
    }
}
