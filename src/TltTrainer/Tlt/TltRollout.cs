// The whole TLT rollout stack for an RL run, built in one call: N rollout workers over the policy, each
// with adaptive speculation (no speculation, EAGLE chain, EAGLE tree, n-gram chain: chosen per running-batch
// bucket by measured throughput) serving the newest published drafter; the workers' hidden states feed one
// buffer; idle workers train one drafter copy and publish it. With TLT off the same workers decode plainly,
// so an off/on comparison differs only in what TLT adds. Pass Rollout, OnlineDrafter and TrainingDrafter
// to RlTrainer (engine, Tlt, Drafter). EvaluationEngine is one more engine over the policy for held-out
// evaluation: it speculates with an EAGLE chain serving the newest published drafter (plain with TLT off)
// and feeds neither the hidden-state buffer nor the idle scheduler.
using TltTrainer.Drafting;
using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Speculative;
using TorchSharp;

namespace TltTrainer.Tlt;

/// <summary>Settings of <see cref="TltRollout"/>.</summary>
public sealed record TltRolloutOptions
{
    /// <summary>Speculation, drafter serving and online drafter training on; off = plain decoding on the same workers. Default on.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Rollout workers. Default 2.</summary>
    public int Workers { get; init; } = 2;

    /// <summary>Compute threads per worker; 0 = the machine's cores divided among the workers. Default 0.</summary>
    public int ThreadsPerWorker { get; init; }

    /// <summary>Most sequences each worker decodes at once. Default 64.</summary>
    public int MaxRunningBatch { get; init; } = 64;

    /// <summary>Context (prompt + response) of each worker's KV cache; 0 = the model's maximum. Default 0.</summary>
    public int MaxSequenceLength { get; init; }

    /// <summary>Speculation may turn on once a worker's running batch has stayed at or below this. Default 16.</summary>
    public int SpeculateAtOrBelowBatch { get; init; } = 16;

    /// <summary>Decode steps the running batch must stay small before speculation turns on. Default 5.</summary>
    public int Patience { get; init; } = 5;

    /// <summary>Depth of the EAGLE chain and tree arms. Default 6.</summary>
    public int EagleDepth { get; init; } = 6;

    /// <summary>
    /// The tokens the EAGLE drafter may propose (a reduced head: the target's lm_head rows of these ids), or null (default) for
    /// the whole vocabulary; e.g. <see cref="DraftVocabulary.MostFrequent"/> over the warm-up generations. Worth it with large
    /// vocabularies (a 152 k head is most of a draft step); the output stays exact either way. Change it between steps with
    /// <see cref="TltRollout.DraftVocabulary"/>.
    /// </summary>
    public DraftVocabulary? DraftVocabulary { get; init; }

    /// <summary>Hidden-state buffer. Default windows of 512 tokens, 64 MiB.</summary>
    public HiddenStateBufferOptions Buffer { get; init; } = new(WindowTokens: 512, MaxBytes: 64L << 20);

    /// <summary>Online drafter training. Default <see cref="OnlineDrafterOptions"/>'s.</summary>
    public OnlineDrafterOptions Online { get; init; } = new();

    /// <summary>Seed of the bandits. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// Clock of the bandits' throughput measurements and of the idle-compute accounting. Default the system clock; tests inject
    /// a fake one so that neither the choice of arm nor the idle figures depend on the machine's speed.
    /// </summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Throws <see cref="ArgumentException"/> naming the field when invalid.</summary>
    public TltRolloutOptions Validate()
    {
        void Require(bool ok, string field, object value, string rule)
        {
            if (!ok) throw new ArgumentException($"{field} = {value} is invalid: {rule}.");
        }
        Require(Workers >= 1, nameof(Workers), Workers, "must be ≥ 1");
        Require(ThreadsPerWorker >= 0, nameof(ThreadsPerWorker), ThreadsPerWorker, "must be ≥ 0 (0 = automatic)");
        Require(MaxRunningBatch >= 1, nameof(MaxRunningBatch), MaxRunningBatch, "must be ≥ 1");
        Require(MaxSequenceLength >= 0, nameof(MaxSequenceLength), MaxSequenceLength, "must be ≥ 0 (0 = the model's maximum)");
        Require(SpeculateAtOrBelowBatch >= 1, nameof(SpeculateAtOrBelowBatch), SpeculateAtOrBelowBatch, "must be ≥ 1");
        Require(Patience >= 0, nameof(Patience), Patience, "must be ≥ 0");
        Require(EagleDepth >= 1, nameof(EagleDepth), EagleDepth, "must be ≥ 1");
        Require(Clock is not null, nameof(Clock), "null", "must be set");
        Buffer.Validate();
        Online.Validate();
        return this;
    }
}

/// <summary>Rollout workers with adaptive speculation and online drafter training on idle compute.</summary>
public sealed class TltRollout : IDisposable
{
    private readonly List<IDisposable> _owned = new();
    private readonly List<EagleDrafter> _eagles = new();

    /// <summary>
    /// The tokens the EAGLE drafters may propose, or null for the whole vocabulary (see <see cref="TltRolloutOptions.DraftVocabulary"/>).
    /// Set it between RL steps: each rollout takes it up when it begins.
    /// </summary>
    public DraftVocabulary? DraftVocabulary
    {
        get => _eagles.FirstOrDefault()?.Vocabulary;
        set { foreach (var e in _eagles) e.Vocabulary = value; }
    }

    private TltRollout(ParallelRollout rollout, RolloutEngine evaluation, IReadOnlyList<AdaptiveSpeculation> adaptive, OnlineDrafter? online, EagleDraftModel? training)
    {
        Rollout = rollout;
        EvaluationEngine = evaluation;
        Adaptive = adaptive;
        OnlineDrafter = online;
        TrainingDrafter = training;
    }

    /// <summary>The rollout generator to give <see cref="Rl.RlTrainer"/>.</summary>
    public ParallelRollout Rollout { get; }

    /// <summary>
    /// An engine over the policy for held-out evaluation (<see cref="Evaluation.RolloutEvaluator"/>): with TLT on it speculates with an
    /// EAGLE chain serving the newest published drafter (greedy output equals plain greedy decoding), with TLT off it decodes plainly.
    /// It never feeds the hidden-state buffer or the idle scheduler. Owned by this stack.
    /// </summary>
    public RolloutEngine EvaluationEngine { get; }

    /// <summary>The online drafter hooks for <see cref="Rl.RlTrainer.Tlt"/>, or null with TLT off.</summary>
    public OnlineDrafter? OnlineDrafter { get; }

    /// <summary>The drafter being trained (saved in checkpoints: <see cref="Rl.RlTrainer.Drafter"/>), or null with TLT off.</summary>
    public EagleDraftModel? TrainingDrafter { get; }

    /// <summary>Each worker's adaptive speculation (bandit state per bucket), empty with TLT off.</summary>
    public IReadOnlyList<AdaptiveSpeculation> Adaptive { get; }

    /// <summary>Builds the stack over <paramref name="policy"/>.</summary>
    /// <param name="policy">The policy (the engines generate with it; RlTrainer trains it in place).</param>
    /// <param name="drafter">Starting drafter weights (warm, or a fresh <see cref="EagleDraftModel"/>); copied, not kept. Required when enabled.</param>
    /// <param name="options">Settings.</param>
    public static TltRollout Create(CausalLM policy, EagleDraftModel? drafter, TltRolloutOptions? options = null)
    {
        var o = (options ?? new TltRolloutOptions()).Validate();
        int threads = o.ThreadsPerWorker > 0 ? o.ThreadsPerWorker : Math.Max(1, Environment.ProcessorCount / o.Workers);
        var engineOptions = new RolloutEngineOptions { MaxRunningBatch = o.MaxRunningBatch, MaxSequenceLength = o.MaxSequenceLength };
        if (!o.Enabled)
        {
            var plain = Enumerable.Range(0, o.Workers).Select(_ => new RolloutEngine(policy, engineOptions)).ToList();
            var plainRollout = new ParallelRollout(plain, threads);
            var off = new TltRollout(plainRollout, new RolloutEngine(policy, engineOptions), Array.Empty<AdaptiveSpeculation>(), null, null);
            off._owned.Add(plainRollout);
            return off;
        }
        if (drafter is null) throw new ArgumentNullException(nameof(drafter), "TLT needs a drafter to start from (a fresh EagleDraftModel is fine).");
        var owned = new List<IDisposable>();
        try
        {
            var training = Track(owned, Copy(drafter, policy));
            var buffer = Track(owned, new HiddenStateBuffer(o.Buffer));
            var publisher = Track(owned, new DrafterPublisher());
            var online = Track(owned, new OnlineDrafterTraining(policy, training, buffer, publisher, o.Online));
            var scheduler = Track(owned, new IdleComputeScheduler(o.Workers, online, o.Clock));
            var adaptive = new List<AdaptiveSpeculation>();
            var eagles = new List<EagleDrafter>();
            var engines = new List<RolloutEngine>();
            for (int w = 0; w < o.Workers; w++)
            {
                var serving = Track(owned, Copy(drafter, policy));
                var eagle = Track(owned, new EagleDrafter(policy, serving, publisher) { Vocabulary = o.DraftVocabulary });
                eagles.Add(eagle);
                var ngram = Track(owned, new NGramDrafter());
                var arms = new[]
                {
                    SpeculationArm.None, SpeculationArm.Of(eagle, SpecStrategy.ChainOf(o.EagleDepth)),
                    SpeculationArm.Of(eagle, SpecStrategy.TreeOf(o.EagleDepth, 3, 16)), SpeculationArm.Of(ngram, SpecStrategy.ChainOf(8)),
                };
                var a = new AdaptiveSpeculation(new AdaptiveSpeculationOptions
                {
                    Arms = arms, BatchThreshold = o.SpeculateAtOrBelowBatch, Patience = o.Patience, Seed = o.Seed * 7919 + w, Clock = o.Clock,
                });
                adaptive.Add(a);
                engines.Add(new RolloutEngine(policy, engineOptions with { Adaptive = a, HiddenStateSink = buffer }));
            }
            var rollout = Track(owned, new ParallelRollout(engines, threads) { IdleListener = scheduler });
            var evaluationDrafter = Track(owned, new EagleDrafter(policy, Track(owned, Copy(drafter, policy)), publisher) { Vocabulary = o.DraftVocabulary });
            eagles.Add(evaluationDrafter);
            var evaluation = new RolloutEngine(policy, engineOptions with
            {
                Drafter = evaluationDrafter, Strategy = SpecStrategy.ChainOf(o.EagleDepth), SpeculateAtOrBelowBatch = o.SpeculateAtOrBelowBatch,
            });
            var result = new TltRollout(rollout, evaluation, adaptive, new OnlineDrafter(buffer, scheduler, online), training);
            result._owned.AddRange(owned);
            result._eagles.AddRange(eagles);
            return result;
        }
        catch
        {
            foreach (var d in Enumerable.Reverse(owned)) d.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var d in Enumerable.Reverse(_owned)) d.Dispose();
        _owned.Clear();
    }

    private static T Track<T>(List<IDisposable> owned, T item) where T : IDisposable
    {
        owned.Add(item);
        return item;
    }

    /// <summary>A copy of <paramref name="source"/> on the policy's device (the drafter reads the policy's hidden states there).</summary>
    private static EagleDraftModel Copy(EagleDraftModel source, CausalLM policy)
    {
        var copy = new EagleDraftModel(policy.Config);
        try
        {
            if (policy.Device.type != DeviceType.CPU) copy.to(policy.Device);
            copy.CopyFrom(source.state_dict(), "starting drafter");
        }
        catch { copy.Dispose(); throw; }
        return copy;
    }
}
