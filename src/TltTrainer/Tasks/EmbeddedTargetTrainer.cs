// Supervised next-token training of the embedded target on worked chain-arithmetic solutions.
// One linear loop: batch → forward (packed, block-diagonal mask) → response-only cross-entropy →
// backward → clip → AdamW step; the learning rate is set by hand each step (linear warm-up, cosine
// decay to a floor) because TorchSharp schedulers keep state the optimizer does not save.
// Weight decay applies to matrices only. All per-step tensors die in the step's dispose scope.
using System.Diagnostics;
using TltTrainer.Models;
using TltTrainer.Optimization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TltTrainer.Tasks;

/// <summary>The training loop behind <see cref="EmbeddedTarget"/>.</summary>
internal static class EmbeddedTargetTrainer
{
    /// <summary>Trains a fresh model; runs on the calling thread with <see cref="EmbeddedTargetOptions.Threads"/> intra-op threads.</summary>
    public static (CausalLM Model, double FinalLoss) Train(EmbeddedTargetOptions options, IProgress<EmbeddedTargetProgress>? progress,
        CancellationToken cancellationToken)
    {
        int previousThreads = get_num_threads();
        set_num_threads(options.Threads);   // per thread (OpenMP semantics): this is the training thread
        var model = new CausalLM(options.Config, seed: (long)(options.Seed & long.MaxValue));
        try
        {
            double loss = Run(model, options, progress, cancellationToken);
            return (model, loss);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        finally
        {
            set_num_threads(previousThreads);
        }
    }

    /// <summary>Learning rate at <paramref name="step"/>: linear warm-up to the peak, then cosine to the floor.</summary>
    public static double LearningRate(EmbeddedTargetOptions o, int step)
    {
        if (step < o.WarmupSteps) return o.PeakLearningRate * (step + 1) / o.WarmupSteps;
        double progress = (double)(step - o.WarmupSteps) / Math.Max(1, o.Steps - 1 - o.WarmupSteps);
        double floor = o.FinalLearningRateFraction;
        return o.PeakLearningRate * (floor + (1 - floor) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }

    private static double Run(CausalLM model, EmbeddedTargetOptions options, IProgress<EmbeddedTargetProgress>? progress,
        CancellationToken cancellationToken)
    {
        model.train();
        var parameters = model.parameters().ToArray();
        // Weight decay on matrices only. The library's AdamW, not TorchSharp's: this runs on first use, possibly while other
        // threads allocate (a test host's other tests), and TorchSharp's hands native code Scalars a collection can finalize.
        using var matrices = new RootedAdamW(parameters.Where(p => p.dim() >= 2), 0.9, 0.98, options.WeightDecay);
        using var vectors = new RootedAdamW(parameters.Where(p => p.dim() < 2), 0.9, 0.98, 0.0);
        var batches = new PackedBatchBuilder(options);
        var clock = Stopwatch.StartNew();
        double loss = double.NaN;
        for (int step = 0; step < options.Steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            double lr = LearningRate(options, step);
            matrices.LearningRate = vectors.LearningRate = lr;

            var batch = batches.Next(step);
            using var output = model.Forward(batch.Tokens, positions: batch.Positions, newTokenMask: batch.Mask);
            var logits = output.Logits!;
            var lossT = nn.functional.cross_entropy(logits.view(-1, logits.shape[^1]), batch.Targets.view(-1),
                ignore_index: PackedBatchBuilder.Ignore);
            matrices.ZeroGrad();
            vectors.ZeroGrad();
            lossT.backward();
            nn.utils.clip_grad_norm_(parameters, options.GradientClip);
            matrices.Step();
            vectors.Step();

            loss = lossT.item<float>();
            if (!double.IsFinite(loss)) throw new InvalidOperationException($"Training diverged at step {step}: loss {loss}.");
            progress?.Report(new EmbeddedTargetProgress(EmbeddedTargetPhase.Training, step + 1, options.Steps, loss, lr,
                batches.TermLimit(step), clock.Elapsed));
        }
        model.eval();
        return loss;
    }
}
