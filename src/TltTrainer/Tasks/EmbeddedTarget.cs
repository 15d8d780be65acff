// The built-in target model: an EmbeddedDefault CausalLM taught the chain-arithmetic task by supervised
// training, so RL and speculative rollouts have a policy that writes long-tailed, mostly-correct
// responses without downloading anything. Training takes minutes on CPU, so trained weights are
// cached on disk under a hash of everything that determines them (model config, recipe, seed, recipe
// version). Cache files are written to a temporary name and renamed into place, so a killed run never
// leaves a truncated file behind; a file that still fails to load is retrained and replaced.
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TltTrainer.Models;

namespace TltTrainer.Tasks;

/// <summary>The trained embedded target model of <see cref="ChainArithmeticTask"/>; owns its <see cref="Model"/>.</summary>
public sealed class EmbeddedTarget : IDisposable
{
    /// <summary>Environment variable that overrides the default cache folder.</summary>
    public const string CacheDirectoryVariable = "TLT_CACHE_DIR";

    /// <summary>Bumped whenever the training code changes the weights a recipe produces (invalidates caches).</summary>
    private const int RecipeVersion = 1;

    private EmbeddedTarget(CausalLM model, EmbeddedTargetOptions options, string cachePath, bool fromCache, EmbeddedTargetInfo? info)
    {
        Model = model;
        Options = options;
        CachePath = cachePath;
        FromCache = fromCache;
        Info = info;
    }

    /// <summary>The trained model, in eval mode, float32 on the CPU.</summary>
    public CausalLM Model { get; }

    /// <summary>The task's tokenizer.</summary>
    public ChainArithmeticTokenizer Tokenizer => ChainArithmeticTokenizer.Instance;

    /// <summary>The recipe the weights come from.</summary>
    public EmbeddedTargetOptions Options { get; }

    /// <summary>Path of the cached weights.</summary>
    public string CachePath { get; }

    /// <summary>Whether the weights were loaded from the cache rather than trained by this call.</summary>
    public bool FromCache { get; }

    /// <summary>How the weights were trained (from the cache's sidecar file), or null if unknown.</summary>
    public EmbeddedTargetInfo? Info { get; }

    /// <summary>
    /// The default cache folder: <c>$TLT_CACHE_DIR</c> if set, else <c>$XDG_CACHE_HOME/tlttrainer</c>, else
    /// <c>~/.cache/tlttrainer</c>.
    /// </summary>
    public static string DefaultCacheDirectory()
    {
        string? overridden = Environment.GetEnvironmentVariable(CacheDirectoryVariable);
        if (!string.IsNullOrWhiteSpace(overridden)) return overridden;
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string root = !string.IsNullOrWhiteSpace(xdg) ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "tlttrainer");
    }

    /// <summary>Hex SHA-256 of everything that determines the trained weights (not the cache folder or thread count).</summary>
    public static string CacheKey(EmbeddedTargetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var o = options;
        string Num(double x) => x.ToString("R", CultureInfo.InvariantCulture);
        string recipe = string.Join('\n', "embedded-target", RecipeVersion, o.Config.ToJson(), o.Seed, o.Steps, o.RowsPerBatch,
            o.RowLength, Num(o.PeakLearningRate), Num(o.FinalLearningRateFraction), o.WarmupSteps, Num(o.WeightDecay),
            Num(o.GradientClip), o.CurriculumStartTerms, o.CurriculumEndTerms, Num(o.CurriculumRampFraction), Num(o.TrainingTailExponent),
            Num(o.Noise.SlipProbability), Num(o.Noise.RetryProbability), o.Noise.MaxRetries, Num(o.Noise.GuessProbability));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(recipe)));
    }

    /// <summary>Where the weights of <paramref name="options"/> are cached.</summary>
    public static string CacheFilePath(EmbeddedTargetOptions options) =>
        Path.Combine(options.CacheDirectory ?? DefaultCacheDirectory(), $"embedded-target-{CacheKey(options)[..16]}.pt");

    /// <summary>
    /// Loads the cached weights of <paramref name="options"/> (about a second), or trains them on this thread and
    /// caches them: with the defaults about 2.5 minutes on two otherwise idle CPU cores, several times longer
    /// when other processes compete for the cores (see <see cref="EmbeddedTargetOptions.Threads"/>).
    /// </summary>
    /// <param name="options">Recipe; default <see cref="EmbeddedTargetOptions"/>.</param>
    /// <param name="progress">Receives loading, per-step training and saving reports.</param>
    /// <param name="cancellationToken">Checked before every training step; nothing is cached when training is cancelled.</param>
    /// <exception cref="ArgumentOutOfRangeException">The options are invalid.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public static EmbeddedTarget LoadOrTrain(EmbeddedTargetOptions? options = null, IProgress<EmbeddedTargetProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        options = (options ?? new EmbeddedTargetOptions()).Validate();
        string path = CacheFilePath(options);
        string infoPath = Path.ChangeExtension(path, ".json");
        var clock = Stopwatch.StartNew();
        if (File.Exists(path))
        {
            progress?.Report(new EmbeddedTargetProgress(EmbeddedTargetPhase.Loading, 0, options.Steps, double.NaN, 0, 0, clock.Elapsed));
            var loaded = new CausalLM(options.Config);
            try
            {
                loaded.load(path);
                loaded.eval();
                progress?.Report(new EmbeddedTargetProgress(EmbeddedTargetPhase.Done, 0, options.Steps, double.NaN, 0, 0, clock.Elapsed));
                return new EmbeddedTarget(loaded, options, path, fromCache: true, ReadInfo(infoPath));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                loaded.Dispose();   // unreadable or stale file: retrain and replace it
            }
        }

        var (model, finalLoss) = EmbeddedTargetTrainer.Train(options, progress, cancellationToken);
        var info = new EmbeddedTargetInfo(CacheKey(options), clock.Elapsed.TotalSeconds, finalLoss, DateTime.UtcNow);
        progress?.Report(new EmbeddedTargetProgress(EmbeddedTargetPhase.Saving, options.Steps, options.Steps, finalLoss, 0, 0, clock.Elapsed));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // Sidecar first: whenever the weights exist, their description does too.
        WriteAtomically(infoPath, tmp => File.WriteAllText(tmp, JsonSerializer.Serialize(info)));
        WriteAtomically(path, tmp => model.save(tmp));
        progress?.Report(new EmbeddedTargetProgress(EmbeddedTargetPhase.Done, options.Steps, options.Steps, finalLoss, 0, 0, clock.Elapsed));
        return new EmbeddedTarget(model, options, path, fromCache: false, info);
    }

    /// <summary>Greedy exact-answer accuracy of <see cref="Model"/> on <paramref name="examples"/>, by term-count bucket.</summary>
    /// <param name="examples">Examples to answer.</param>
    /// <param name="batchSize">Prompts decoded together.</param>
    /// <param name="cancellationToken">Checked between decode steps.</param>
    public TaskEvaluation Evaluate(IReadOnlyList<TaskExample> examples, int batchSize = 64, CancellationToken cancellationToken = default) =>
        TaskEvaluator.Evaluate(Model, examples, batchSize, cancellationToken: cancellationToken);

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();

    private static void WriteAtomically(string path, Action<string> write)
    {
        string tmp = $"{path}.{Guid.NewGuid():N}.tlt-tmp";
        try
        {
            write(tmp);
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    private static EmbeddedTargetInfo? ReadInfo(string path)
    {
        try { return File.Exists(path) ? JsonSerializer.Deserialize<EmbeddedTargetInfo>(File.ReadAllText(path)) : null; }
        catch (JsonException) { return null; }
    }
}

/// <summary>How cached embedded-target weights were produced (stored next to them as JSON).</summary>
/// <param name="CacheKey">The recipe hash (<see cref="EmbeddedTarget.CacheKey"/>).</param>
/// <param name="TrainingSeconds">Wall-clock training time.</param>
/// <param name="FinalLoss">Response-token cross-entropy of the last step.</param>
/// <param name="CreatedUtc">When training finished.</param>
public sealed record EmbeddedTargetInfo(string CacheKey, double TrainingSeconds, double FinalLoss, DateTime CreatedUtc);
