// TextGen: loads a Llama/Qwen2 HuggingFace folder (default: the TinyStories-656K checkpoint in ../shared/models,
// else the tiny preset with random weights) and generates text with plain and n-gram speculative decoding.
//   dotnet run -c Release --project samples/TextGen -- [hf-folder]       (--help describes it)
using System.Diagnostics;
using TextGen;
using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tokenization;
using TorchSharp;

var commandLine = TextGenCommandLine.Run(args, Console.Out, Console.Error);
if (commandLine.Options is not { } options) return commandLine.ExitCode;   // help printed (0), or the input refused (2)
torch.set_num_threads(Math.Max(1, Environment.ProcessorCount));
string? modelDir = options.ModelDirectory ?? FindSharedModel("tinystories-656k");
if (modelDir is null)
{
    Console.WriteLine("No checkpoint given and ../shared/models/tinystories-656k not found: using the tiny preset with random weights.");
    using var tiny = new CausalLM(TransformerPresets.Tiny, seed: 1);
    var tokens = new RolloutEngine(tiny).Generate(new[] { new RolloutRequest(0, new[] { 1, 2, 3 }, SamplingOptions.Greedy(20)) }).Trajectories[0].ResponseTokens;
    Console.WriteLine($"Generated ids: {string.Join(' ', tokens)}");
    return 0;
}

Console.WriteLine($"Loading {modelDir}");
using var model = HfCheckpoint.Load(modelDir);
var tokenizer = TokenizerLoader.FromDirectory(modelDir, new TokenizerLoadOptions { EncodeDefaults = new EncodeOptions { AddBos = true, AddPrefixSpace = false } });
var stop = new HashSet<int> { tokenizer.EosId ?? 2 };
string[] prompts = { "Once upon a time,", "Tom had a red ball.", "The little cat was sad because" };
var requests = prompts.Select((p, i) => new RolloutRequest(i, tokenizer.Encode(p), SamplingOptions.Greedy(80, stop))).ToList();

var clock = Stopwatch.StartNew();
var plain = new RolloutEngine(model).Generate(requests);
double plainSeconds = clock.Elapsed.TotalSeconds;
using var ngram = new NGramDrafter();
clock.Restart();
var spec = new RolloutEngine(model, new RolloutEngineOptions { Drafter = ngram, Strategy = SpecStrategy.ChainOf(4) }).Generate(requests);
double specSeconds = clock.Elapsed.TotalSeconds;

for (int i = 0; i < prompts.Length; i++)
{
    Console.WriteLine();
    Console.WriteLine($"> {prompts[i]}{tokenizer.Decode(plain.Trajectories[i].ResponseTokens, skipSpecialTokens: true)}");
}
bool identical = plain.Trajectories.Zip(spec.Trajectories).All(p => p.First.ResponseTokens.SequenceEqual(p.Second.ResponseTokens));
Console.WriteLine();
Console.WriteLine($"plain: {plain.Metrics.GeneratedTokens} tokens in {plainSeconds:F2}s; n-gram speculative: identical={identical}, "
    + $"mean accepted length {spec.Metrics.MeanAcceptLength:F2}, {specSeconds:F2}s");
return 0;

static string? FindSharedModel(string name)
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        var candidate = Path.Combine(dir.FullName, "shared", "models", name);
        if (Directory.Exists(candidate)) return candidate;
    }
    return null;
}
