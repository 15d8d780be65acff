// A few data-parallel RL steps on the tiny model with a character-level tokenizer and a "share of the
// letter e" reward (every group has reward variance). Options:
//   --steps N        run until the trainer has completed N steps (default 3)
//   --prompts P      prompts per step (default 3: uneven shards on 2 ranks), --group G (default 4)
//   --tokens T       max new tokens (default 12), --epochs E, --minis M (default 2 and 2)
//   --checkpoint DIR save after every step; --resume: continue from its latest checkpoint first
//   --fail-rank R --fail-step S   rank R throws before running step S
//   --tlt            rollouts through the TLT stack (one worker per rank, online drafter training); writes
//                    drafter-rankR.bin and wait-rankR.txt (per step: seconds and drafter steps this rank
//                    trained while waiting for the others)
//   --slow-rank R [--hold-steps K]  rank R's rollout ends only once every other rank's idle worker has trained K drafter
//                    steps after that rank's own rollout ended (a long tail on one rank, made an event instead of a
//                    delay, so the other ranks' training during the wait never depends on the machine's speed)
//   --rollout-fail-rank R         rank R's rollout throws in its second step (the others are mid-step)
// Writes params-rankR.bin (float32, named_parameters order) and, on rank 0, metrics.jsonl.
using System.Globalization;
using TltTrainer.Distributed;
using TltTrainer.Models;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Telemetry;
using TltTrainer.Tlt;
using static TorchSharp.torch;

namespace TltTrainer.MpiHost;

internal static class TrainMode
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz";

    private sealed class LetterShare : IRewardFunction
    {
        public string Name => "letter_share";
        public double Score(RewardInput input) => input.Response.Length == 0 ? 0 : input.Response.Count(c => c == 'e') / (double)input.Response.Length;
    }

    public static int Run(ICommunicator c, HostArguments args)
    {
        Directory.CreateDirectory(args.Out);
        set_num_threads(1);
        int steps = args.Int("steps", 3), failRank = args.Int("fail-rank", -1), failStep = args.Int("fail-step", -1);
        var options = new RlTrainerOptions
        {
            PromptsPerStep = args.Int("prompts", 3), GroupSize = args.Int("group", 4), MicroBatchSize = 5,
            MiniBatchesPerEpoch = args.Int("minis", 2), PpoEpochs = args.Int("epochs", 2), LearningRate = 1e-3, Seed = 11,
            Sampling = new SamplingOptions { Temperature = 1.0, MaxNewTokens = args.Int("tokens", 12) },
        };
        using var model = PeakedTinyModel(seed: 91 + c.Rank * 1000);   // replicas differ on purpose: the trainer must sync them
        var tokenizer = TltTrainer.Tests.TestSupport.CharTokenizerFile.Create(Alphabet, Path.Combine(args.Out, $"tokenizer-rank{c.Rank}.json"));
        var prompts = Enumerable.Range(0, 12).Select(i => new PromptExample(Alphabet.Substring(i, 3), null)).ToList();
        using var sink = c.Rank == 0 ? new JsonlMetricsSink(Path.Combine(args.Out, "metrics.jsonl")) : null;
        bool tltOn = args.Flag("tlt");
        using var startDrafter = tltOn ? new EagleDraftModel(TransformerPresets.Tiny, seed: 5) : null;
        using var tlt = tltOn ? TltRollout.Create(model, startDrafter, new TltRolloutOptions { Workers = 1, ThreadsPerWorker = 1 }) : null;
        IRolloutGenerator engine = tlt?.Rollout ?? (IRolloutGenerator)new RolloutEngine(model);
        int slowRank = args.Int("slow-rank", -1);
        ICommunicator ranks = c;
        if (slowRank >= 0 && tlt?.OnlineDrafter is { } online)
        {
            if (slowRank == c.Rank) engine = new HeldRollout(engine, args.Out, Enumerable.Range(0, c.Size).Where(r => r != c.Rank).ToList());
            else ranks = new SignallingCommunicator(c, args.Out, () => online.Training.Steps, args.Int("hold-steps", 2));
        }
        if (args.Int("rollout-fail-rank", -1) == c.Rank) engine = new FailingRollout(engine, failOnCall: 2);
        using var trainer = new RlTrainer(model, tokenizer, engine, new RewardComposer([new WeightedReward(new LetterShare())]),
            new PromptSampler(prompts, 3), options, sink: sink)
        { Communicator = ranks, Tlt = tlt?.OnlineDrafter, Drafter = tlt?.TrainingDrafter };
        var waits = new List<string>();
        var root = args.Text("checkpoint");
        if (args.Flag("resume") && root is not null && RlCheckpoint.Latest(root) is { } latest) trainer.LoadCheckpoint(latest);
        while (trainer.Step < steps)
        {
            if (c.Rank == failRank && trainer.Step == failStep)
                throw new InvalidOperationException($"injected failure before step {failStep}");
            var m = trainer.RunStep();
            waits.Add(string.Create(CultureInfo.InvariantCulture, $"{m.RankWaitSeconds ?? 0:F3} {m.RankWaitDrafterSteps ?? 0}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"rank {c.Rank}/{c.Size} step {m.Step}: reward {m.RewardMean:F4} loss {m.Loss:F6} step_s {m.StepSeconds:F3} rollout_s {m.RolloutSeconds:F3} update_s {m.UpdateSeconds:F3} comm_s {m.CommunicationSeconds ?? 0:F3}"));
            if (root is not null) trainer.SaveCheckpoint(root);
        }
        using var scope = NewDisposeScope();   // keeps the chained temporaries alive until used
        var flat = cat(model.parameters().Select(p => p.detach().flatten()).ToList());
        File.WriteAllBytes(Path.Combine(args.Out, $"params-rank{c.Rank}.bin"), flat.bytes.ToArray());
        if (tlt?.TrainingDrafter is { } drafter)
        {
            var drafterFlat = cat(drafter.parameters().Select(p => p.detach().flatten()).ToList());
            File.WriteAllBytes(Path.Combine(args.Out, $"drafter-rank{c.Rank}.bin"), drafterFlat.bytes.ToArray());
            File.WriteAllLines(Path.Combine(args.Out, $"wait-rank{c.Rank}.txt"), waits);
        }
        return 0;
    }

    /// <summary>A rollout that throws on its n-th call.</summary>
    private sealed class FailingRollout(IRolloutGenerator inner, int failOnCall) : IRolloutGenerator
    {
        private int _calls;

        public int SequenceCapacity => inner.SequenceCapacity;

        public RolloutResult Generate(IReadOnlyList<RolloutRequest> requests, CancellationToken cancellationToken = default, IProgress<RolloutProgress>? progress = null)
        {
            if (++_calls == failOnCall) throw new InvalidOperationException($"injected rollout failure on call {_calls}");
            return inner.Generate(requests, cancellationToken, progress);
        }
    }

    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(2);

    private static string TrainedFlag(string dir, int call, int rank) => Path.Combine(dir, $"trained-call{call}-rank{rank}");

    /// <summary>Waits for <paramref name="condition"/>, checking every millisecond; throws after the hang guard (a hang, not a timing verdict).</summary>
    private static void WaitFor(Func<bool> condition, string what)
    {
        if (!SpinWait.SpinUntil(() => { if (condition()) return true; Thread.Sleep(1); return false; }, HangGuard))
            throw new TimeoutException($"waited {HangGuard} for {what}");
    }

    /// <summary>
    /// A rank done early: when it enters the end-of-round barrier (where OnlineDrafter.RoundEnded starts counting its wait), a
    /// watcher flags, by a file, once its idle worker has trained <paramref name="steps"/> drafter steps since; the slow rank
    /// waits for that flag. Everything else goes straight to <paramref name="inner"/>.
    /// </summary>
    private sealed class SignallingCommunicator(ICommunicator inner, string dir, Func<int> drafterSteps, int steps) : ICommunicator
    {
        private int _rounds;

        public int Rank => inner.Rank;
        public int Size => inner.Size;
        public string Description => inner.Description;
        public TimeSpan CommunicationTime => inner.CommunicationTime;
        public void Barrier() => inner.Barrier();
        public void AllReduce<T>(Span<T> values, ReduceOperation operation = ReduceOperation.Sum) where T : unmanaged => inner.AllReduce(values, operation);
        public void Broadcast<T>(Span<T> values, int root) where T : unmanaged => inner.Broadcast(values, root);
        public void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged => inner.AllGather(send, receive);
        public void Abort(int errorCode) => inner.Abort(errorCode);

        public IPendingBarrier StartBarrier()
        {
            int round = ++_rounds, start = drafterSteps();
            new Thread(() =>
            {
                WaitFor(() => drafterSteps() >= start + steps, $"rank {Rank} to train {steps} drafter steps");
                File.WriteAllText(TrainedFlag(dir, round, Rank), "");
            }) { IsBackground = true }.Start();
            return inner.StartBarrier();
        }

        public void Dispose() { }                  // the host owns the inner communicator
    }

    /// <summary>The slow rank: its rollout ends only when every other rank has flagged its drafter steps for this call.</summary>
    private sealed class HeldRollout(IRolloutGenerator inner, string dir, IReadOnlyList<int> others) : IRolloutGenerator
    {
        private int _calls;

        public int SequenceCapacity => inner.SequenceCapacity;

        public RolloutResult Generate(IReadOnlyList<RolloutRequest> requests, CancellationToken cancellationToken = default, IProgress<RolloutProgress>? progress = null)
        {
            var result = inner.Generate(requests, cancellationToken, progress);
            int call = ++_calls;
            WaitFor(() => others.All(r => File.Exists(TrainedFlag(dir, call, r))), "the other ranks' drafter steps");
            return result;
        }
    }

    private static CausalLM PeakedTinyModel(int seed)
    {
        var model = new CausalLM(TransformerPresets.Tiny, seed);
        using var noGrad = no_grad();
        using var g = new Generator((ulong)seed + 1000);
        foreach (var (name, p) in model.named_parameters())
            if (!name.Contains("norm")) p.normal_(0, 0.1, g);
        return model;
    }
}
