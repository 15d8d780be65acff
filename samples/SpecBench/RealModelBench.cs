// The speculative table for a real checkpoint: TinyStories-656K from the shared models folder, on short
// story openings. Its EAGLE drafter is trained on the model's own unconditional stories (temperature 1)
// with the generic DrafterWarmup recipe and cached under the tlttrainer cache folder, keyed by a hash of
// the checkpoint files and the recipe, so only the first run pays for it.
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using TltTrainer.Drafting;
using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Tasks;
using TltTrainer.Tokenization;

internal static class RealModelBench
{
    public const string ModelName = "tinystories-656k";

    /// <summary>Bumped whenever the drafter recipe below changes in a way its options do not show.</summary>
    private const int RecipeVersion = 1;

    public static readonly string[] Openings =
    {
        "Once upon a time, there was a little girl named Lily. She loved to",
        "Tom had a red ball. One day,",
        "The little cat was sad because",
        "One day, a big dog found a box in the park. Inside the box",
        "Sam and his mom went to the store to buy",
        "There was a tiny bird who could not fly. Every day, the bird",
        "Anna liked to play in the garden with her friend Ben. They",
        "The sun was shining and the children were happy. They ran to",
    };

    private static readonly DrafterWarmupOptions Recipe = new() { Steps = 200, SequencesPerStep = 8, RowLength = 256, LearningRate = 2e-3, Seed = 5 };
    private const int TrainingStories = 320, TrainingStoryTokens = 256;

    /// <summary>The checkpoint folder: under <paramref name="shared"/> when given, else shared/models above the repository root; null when absent.</summary>
    public static string? FindModel(string? shared)
    {
        if (shared is not null)
            return new[] { Path.Combine(shared, "models", ModelName), Path.Combine(shared, ModelName), shared }
                .FirstOrDefault(d => File.Exists(Path.Combine(d, "config.json")));
        if (Environment.GetEnvironmentVariable("TLT_SHARED_MODELS") is { Length: > 0 } overridden)
            return Directory.Exists(Path.Combine(overridden, ModelName)) ? Path.Combine(overridden, ModelName) : null;
        var root = Ancestors(AppContext.BaseDirectory).FirstOrDefault(d => File.Exists(Path.Combine(d.FullName, "TltTrainer.sln")))
            ?? new DirectoryInfo(Directory.GetCurrentDirectory());
        return Ancestors(root.FullName).Skip(1).Select(d => Path.Combine(d.FullName, "shared", "models", ModelName)).FirstOrDefault(Directory.Exists);
    }

    public static (JsonArray Results, bool GreedyIdentical) Run(string modelDir, bool quick, IReadOnlyCollection<string>? only)
    {
        using var model = HfCheckpoint.Load(modelDir);
        model.eval();
        // The model was trained on [BOS] + BPE(text) without the leading "▁" (see the shared models README).
        var tokenizer = TokenizerLoader.FromDirectory(modelDir, new TokenizerLoadOptions { EncodeDefaults = new EncodeOptions { AddBos = true, AddPrefixSpace = false } });
        int bos = tokenizer.BosId ?? 1, eos = tokenizer.EosId ?? 2;
        var stop = new HashSet<int> { eos };
        var storyRequests = Enumerable.Range(0, TrainingStories).Select(i => new RolloutRequest(i, new[] { bos },
            new SamplingOptions { Temperature = 1.0, MaxNewTokens = TrainingStoryTokens, StopTokens = stop, Seed = Recipe.Seed * 7919 + (ulong)i })).ToList();
        string path = Path.Combine(EmbeddedTarget.DefaultCacheDirectory(), $"tinystories-drafter-{CacheKey(modelDir)}.safetensors");
        if (!File.Exists(path)) Console.WriteLine($"  training the TinyStories drafter on {TrainingStories} of its own stories (cached afterwards at {path})");
        using var trained = DrafterWarmup.LoadOrTrain(model, path, storyRequests, Recipe, new Progress<string>(m => Console.WriteLine($"    {m}")));
        var prompts = Openings.Select(tokenizer.Encode).ToList();
        return SpeculativeBench.Run(new BenchWorkload(model, prompts, stop, quick ? 128 : 256, trained), quick, only);
    }

    /// <summary>Hash of the checkpoint's config and weights, the recipe and the training requests.</summary>
    private static string CacheKey(string modelDir)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"specbench-tinystories-drafter|{RecipeVersion}|{Recipe}|{TrainingStories}|{TrainingStoryTokens}|"));
        foreach (var file in Directory.GetFiles(modelDir).Where(f => f.EndsWith(".json", StringComparison.Ordinal) || f.EndsWith(".safetensors", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            sha.AppendData(Encoding.UTF8.GetBytes(Path.GetFileName(file) + "|"));
            sha.AppendData(File.ReadAllBytes(file));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }

    private static IEnumerable<DirectoryInfo> Ancestors(string path)
    {
        for (var dir = new DirectoryInfo(path); dir is not null; dir = dir.Parent) yield return dir;
    }
}
