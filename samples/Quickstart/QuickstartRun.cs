using TltTrainer.Distributed;
using TltTrainer.Evaluation;
using TltTrainer.Models;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tasks;
using TltTrainer.Telemetry;
using TltTrainer.Tlt;

namespace Quickstart;

/// <summary>
/// One RL run on the embedded task, TLT on or off: its own copy of the policy, its rollout stack and
/// trainer, stepped from outside so that a comparison can interleave the two runs step by step. Held-out
/// chains (drawn with another seed, none of the training prompts) are evaluated greedily by term bucket
/// at the end and every --eval-every steps, through the stack's evaluation engine.
/// </summary>
internal sealed class QuickstartRun : IDisposable
{
    private readonly CausalLM _policy;
    private readonly TltRollout _stack;
    private readonly JsonlMetricsSink? _sink;
    private readonly TensorBoardMetricsSink? _tensorBoard;
    private readonly RlTrainer _trainer;

    public QuickstartRun(EmbeddedTarget target, EagleDraftModel warmDrafter, QuickstartOptions options, bool tlt, ICommunicator ranks)
    {
        Name = tlt ? "on" : "off";
        Tlt = tlt;
        _policy = new CausalLM(target.Model.Config);
        using (TorchSharp.torch.no_grad())
            foreach (var (key, p) in _policy.named_parameters()) p.copy_(target.Model.state_dict()[key]);
        var tokenizer = ChainArithmeticTextTokenizer.Instance;
        var stop = new HashSet<int> { tokenizer.EosId!.Value };
        StackOptions = new TltRolloutOptions
        {
            Enabled = tlt, Workers = options.Workers, MaxRunningBatch = 64, MaxSequenceLength = 1024, SpeculateAtOrBelowBatch = 16, Patience = 5,
            ThreadsPerWorker = Math.Max(1, Communicator.CoresPerRank / options.Workers),
        };
        _stack = TltRollout.Create(_policy, warmDrafter, StackOptions);
        // With --compare, the TLT run keeps its last rounds for the replay benchmark (ReplayBench).
        IRolloutGenerator rollout = _stack.Rollout;
        if (tlt && options.Compare && ranks.Size == 1)
            rollout = Recording = new RecordingRollout(_stack.Rollout, _policy, _stack.TrainingDrafter!, () => _trainer?.Step ?? 0, keep: ReplaySteps);
        var prompts = new ChainArithmeticTask(new ChainArithmeticOptions { Seed = options.Seed }).Sample(4096)
            .Select(e => new PromptExample(e.Prompt, e.Answer)).ToList();
        if (ranks.Rank == 0)
        {
            Directory.CreateDirectory(options.OutputDirectory);
            _sink = new JsonlMetricsSink(Path.Combine(options.OutputDirectory, $"metrics-{Name}.jsonl"));   // rank 0 alone writes
            if (options.TensorBoardDirectory is { } board) _tensorBoard = new TensorBoardMetricsSink(Path.Combine(board, Name));
        }
        var rewards = new RewardComposer(new[] { new WeightedReward(new ExactAnswerReward(ChainArithmeticTask.ExtractAnswer)) });
        var trainPrompts = prompts.Select(p => p.Prompt).ToHashSet();
        var heldOut = options.EvalPrompts == 0 ? new List<TaskExample>()
            : new ChainArithmeticTask(new ChainArithmeticOptions { Seed = options.Seed + 0x5EED }).Sample(4 * options.EvalPrompts + 64)
                .Where(e => !trainPrompts.Contains(e.Prompt)).Take(options.EvalPrompts).OrderBy(e => e.Terms).ToList();   // buckets in term order
        _trainer = new RlTrainer(_policy, tokenizer, rollout, rewards, new PromptSampler(prompts, options.Seed), new RlTrainerOptions
            {
                PromptsPerStep = options.PromptsPerStep, GroupSize = options.GroupSize, MicroBatchSize = 32, LearningRate = options.LearningRate, Seed = options.Seed,
                Sampling = new SamplingOptions { Temperature = options.Temperature, MaxNewTokens = options.MaxNewTokens, StopTokens = stop },
            }, sink: _sink is null ? null : new CompositeMetricsSink(new IMetricsSink?[] { _sink, _tensorBoard }.OfType<IMetricsSink>().ToList()))
        {
            AccuracyCheck = (response, answer) => answer is not null && ChainArithmeticTask.IsCorrect(response, answer),
            Tlt = _stack.OnlineDrafter,
            Drafter = _stack.TrainingDrafter,
            Communicator = ranks,
            Evaluation = heldOut.Count == 0 ? null : new EvaluationSchedule(new RolloutEvaluator(_stack.EvaluationEngine, tokenizer,
                TaskEvaluator.AsEvaluationExamples(heldOut), new EvaluationOptions { MaxNewTokens = options.MaxNewTokens, StopTokens = stop }, rewards,
                (response, answer) => answer is not null && ChainArithmeticTask.IsCorrect(response, answer)), options.EvalEvery, options.Steps),
        };
    }

    /// <summary>Rounds the replay benchmark regenerates: the last ones (the policy and drafter then are the most trained).</summary>
    public const int ReplaySteps = 2;

    /// <summary>The stack's settings (the replay builds stacks of the same shape).</summary>
    public TltRolloutOptions StackOptions { get; }

    /// <summary>The TLT run's recorded rounds in a comparison, else null.</summary>
    public RecordingRollout? Recording { get; }

    /// <summary>The policy's shape.</summary>
    public TransformerConfig Config => _policy.Config;

    /// <summary>"off" or "on".</summary>
    public string Name { get; }

    /// <summary>Whether TLT is on.</summary>
    public bool Tlt { get; }

    /// <summary>Metrics of the steps done.</summary>
    public List<StepMetrics> Steps { get; } = new();

    /// <summary>Runs one RL step.</summary>
    public StepMetrics Step(CancellationToken cancellationToken, IProgress<RlProgress>? progress)
    {
        var m = _trainer.RunStep(cancellationToken, progress);
        Steps.Add(m);
        return m;
    }

    /// <summary>The last held-out evaluation by term bucket, one line each (none when nothing was evaluated).</summary>
    public IEnumerable<string> HeldOutLines()
    {
        if (Steps.LastOrDefault(m => m.ValidationBucketAccuracy is not null) is not { } last) yield break;
        foreach (var (bucket, accuracy) in last.ValidationBucketAccuracy!) yield return $"{bucket}: {accuracy:P0}";
        yield return $"all: {last.ValidationAccuracy:P0} (after step {last.Step}, {last.EvaluationSeconds:F1} s, not in the step time)";
    }

    /// <summary>What the trained policy writes (greedy) for a few fresh prompts.</summary>
    public IEnumerable<string> ShowAnswers(ulong seed)
    {
        var tokenizer = ChainArithmeticTextTokenizer.Instance;
        var stop = new HashSet<int> { tokenizer.EosId!.Value };
        var shown = new ChainArithmeticTask(new ChainArithmeticOptions { Seed = seed + 1000, MaxTerms = 6 }).Sample(3);
        var answers = new RolloutEngine(_policy).Generate(shown.Select((e, i) => new RolloutRequest(i, tokenizer.Encode(e.Prompt), SamplingOptions.Greedy(200, stop))).ToList());
        for (int i = 0; i < shown.Count; i++)
            yield return $"{shown[i].Prompt}{tokenizer.Decode(answers.Trajectories[i].ResponseTokens)}   (expected {shown[i].Answer})";
    }

    public void Dispose()
    {
        Recording?.Dispose();
        _trainer.Dispose();
        _sink?.Dispose();
        _tensorBoard?.Dispose();
        _stack.Dispose();
        _policy.Dispose();
    }
}
