using System.Text.Json;
using HfRl;
using TltTrainer.Models;
using TltTrainer.Rl;
using TltTrainer.Telemetry;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Samples;

/// <summary>
/// The HfRl sample run in-process against a tiny Llama checkpoint written here (HF layout, a character-level
/// tokenizer.json of digits, operators and letters): metrics, checkpoints, resume, TLT work, and the named input errors.
/// </summary>
public sealed class HfRlRunTests
{
    private const string Alphabet = "0123456789+-*=?. abcdefghijklmnopqrstuvwxyz";   // 43 characters + 3 specials = 46 ids

    private static void WriteModelFolder(TempDirectory dir, int vocabSize)
    {
        TestTokenizers.CharLevel(Alphabet, dir);                                       // writes tokenizer.json
        dir.Write("tokenizer_config.json", """{ "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>" }""");
        var config = TransformerPresets.Tiny with { VocabSize = vocabSize, BosTokenId = 1, EosTokenIds = new[] { 2 } };
        using var model = new CausalLM(config, seed: 7);
        HfCheckpoint.Save(model, dir.Path);
    }

    private static string WritePrompts(TempDirectory dir, string name = "prompts.jsonl")
    {
        var lines = new[] { ("1+2=", "3"), ("4+4=", "8"), ("9-5=", "4"), ("2*3=", "6"), ("7-7=", "0"), ("3+5=", "8") }
            .Select(p => JsonSerializer.Serialize(new { prompt = p.Item1, answer = p.Item2 }));
        return dir.Write(name, string.Join("\n", lines) + "\n");
    }

    private static HfRlOptions Options(string model, string prompts, string output, int steps) => new()
    {
        ModelDirectory = model, PromptsPath = prompts, OutputDirectory = output, Steps = steps, Seed = 3, CheckpointEvery = 1,
        LearningRate = 1e-3, GroupSize = 4, PromptsPerStep = 2, MaxNewTokens = 16, Workers = 2, Tlt = true, Template = "q {prompt}",
        FormatPattern = @"\d",
    };

    private static List<StepMetrics> ReadMetrics(string path) =>
        File.ReadLines(path).Select(l => JsonSerializer.Deserialize<StepMetrics>(l)!).ToList();

    [MpiFact]
    public void Mpirun_TwoRanks_TrainWithTlt_RankZeroWritesEverything_AndOneProcessResumes()
    {
        using var model = new TempDirectory();
        using var work = new TempDirectory();
        WriteModelFolder(model, TransformerPresets.Tiny.VocabSize);
        string prompts = WritePrompts(work);
        string output = Path.Combine(work.Path, "out");
        var run = MpiLauncher.RunProgram(Path.Combine(AppContext.BaseDirectory, "HfRl.dll"), 2, TimeSpan.FromMinutes(4),
            "--model", model.Path, "--prompts", prompts, "--out", output, "--steps", "2", "--seed", "3", "--checkpoint-every", "1", "--lr", "1e-3",
            "--group", "4", "--prompts-per-step", "2", "--max-new-tokens", "16", "--workers", "1", "--template", "q {prompt}");
        Assert.True(run.ExitCode == 0, $"mpirun exited {run.ExitCode}:\n{run.Output}");
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(run.Output, "on each of 2 ranks"));   // rank 0 alone logs

        var lines = ReadMetrics(Path.Combine(output, "metrics.jsonl"));
        Assert.Equal(new[] { 0, 1 }, lines.Select(m => m.Step));
        Assert.All(lines, m => Assert.Equal(2, m.Ranks));
        Assert.All(lines, m => Assert.NotNull(m.RankWaitSeconds));
        Assert.True(File.Exists(Path.Combine(output, "drafter.safetensors")));
        var checkpoint = RlCheckpoint.Latest(Path.Combine(output, "checkpoints"));
        Assert.NotNull(checkpoint);

        // The two-rank checkpoint resumes in one process.
        var resumed = HfRlRun.Run(Options(model.Path, prompts, output, steps: 3) with { Resume = true, Workers = 1 }, new StringWriter());
        Assert.Equal(2, resumed.StartStep);
        Assert.Equal(new[] { 2 }, resumed.Steps.Select(m => m.Step));
    }

    [Fact]
    public void Run_TinyCheckpointWithTlt_WritesMetricsAndCheckpoints_AndResumes()
    {
        using var model = new TempDirectory();
        using var work = new TempDirectory();
        WriteModelFolder(model, TransformerPresets.Tiny.VocabSize);
        string prompts = WritePrompts(work);
        string output = Path.Combine(work.Path, "out");
        var log = new StringWriter();

        var first = HfRlRun.Run(Options(model.Path, prompts, output, steps: 2), log);
        Assert.Equal(0, first.StartStep);
        Assert.Equal(new[] { 0, 1 }, first.Steps.Select(m => m.Step));
        var lines = ReadMetrics(first.MetricsPath);
        Assert.Equal(2, lines.Count);
        Assert.All(lines, m => Assert.True(double.IsFinite(m.RewardMean) && double.IsFinite(m.Loss), $"step {m.Step}: reward {m.RewardMean}, loss {m.Loss}"));
        Assert.All(lines, m => Assert.NotNull(m.Accuracy));
        Assert.True(RlCheckpoint.IsComplete(Path.Combine(output, "checkpoints", "step-000001")));
        Assert.Equal(Path.Combine(output, "checkpoints", "step-000002"), first.LastCheckpoint);
        Assert.True(File.Exists(Path.Combine(output, "drafter.safetensors")));
        // TLT ran: a new drafter version is published before every rollout, and the rollout reports its arms.
        // Whether idle workers trained depends on how unevenly the two workers finish; it is reported, not required.
        Assert.True(first.Steps[1].DrafterVersion > first.Steps[0].DrafterVersion, log.ToString());
        Assert.All(first.Steps, m => Assert.InRange(m.DrafterTrainSeconds!.Value, 0, m.IdleWorkerSeconds!.Value));   // charged only while idle
        Assert.All(first.Steps, m => Assert.NotNull(m.ArmChoices));
        Assert.Contains("step    1: reward", log.ToString());

        // The same --out without --resume is refused; with it, the run continues from step 2.
        var refused = Assert.Throws<ArgumentException>(() => HfRlRun.Run(Options(model.Path, prompts, output, steps: 3), TextWriter.Null));
        Assert.Contains("--resume", refused.Message);
        var resumed = HfRlRun.Run(Options(model.Path, prompts, output, steps: 3) with { Resume = true, DrafterPath = Path.Combine(output, "drafter.safetensors") }, log);
        Assert.Equal(2, resumed.StartStep);
        Assert.Equal(2, resumed.Steps.Single().Step);
        Assert.True(resumed.Steps[0].DrafterVersion >= 1);
        Assert.Equal(new[] { 0, 1, 2 }, ReadMetrics(resumed.MetricsPath).Select(m => m.Step));
        Assert.Equal(Path.Combine(output, "checkpoints", "step-000003"), resumed.LastCheckpoint);
        Console.WriteLine(log.ToString());
    }

    [Fact]
    public void Run_TltOff_DecodesPlainly()
    {
        using var model = new TempDirectory();
        using var work = new TempDirectory();
        WriteModelFolder(model, TransformerPresets.Tiny.VocabSize);
        var result = HfRlRun.Run(Options(model.Path, WritePrompts(work), Path.Combine(work.Path, "out"), steps: 1) with { Tlt = false }, TextWriter.Null);
        var m = result.Steps.Single();
        Assert.Null(m.DrafterVersion);
        Assert.Equal(1.0, m.AcceptLength);
        Assert.True(double.IsFinite(m.Loss));
        Assert.False(File.Exists(Path.Combine(work.Path, "out", "drafter.safetensors")));
    }

    [Fact]
    public void Run_WithEvalAndTensorBoard_EvaluatesEveryNStepsAndAtTheEnd_AndWritesEvents()
    {
        using var model = new TempDirectory();
        using var work = new TempDirectory();
        WriteModelFolder(model, TransformerPresets.Tiny.VocabSize);
        string prompts = WritePrompts(work);
        string heldOut = WritePrompts(work, "heldout.jsonl");
        string output = Path.Combine(work.Path, "out"), board = Path.Combine(work.Path, "tb");
        var log = new StringWriter();
        var result = HfRlRun.Run(Options(model.Path, prompts, output, steps: 3) with
        {
            EvalPath = heldOut, EvalEvery = 2, EvalK = 2, TensorBoardDirectory = board,
        }, log);

        var lines = ReadMetrics(result.MetricsPath);
        Assert.Equal(new[] { false, true, true }, lines.Select(m => m.EvaluationSeconds is not null));   // after step 2 (every 2) and 3 (the last)
        Assert.All(lines.Skip(1), m =>
        {
            Assert.InRange(m.ValidationAccuracy!.Value, 0, 1);
            Assert.NotNull(m.ValidationReward);
            Assert.True(m.ValidationResponseLengthMean > 0);
            Assert.Equal(2, m.ValidationK);
            Assert.InRange(m.ValidationPassAtK!.Value, 0, 1);
        });
        Assert.Contains("held-out acc", log.ToString());
        Assert.NotNull(lines[0].RewardFunctionMeans);                                                        // math_answer and format
        Assert.Equal(2, lines[0].RewardFunctionMeans!.Count);

        var events = Directory.GetFiles(board, "*tfevents*");
        Assert.Single(events);
        string bytes = System.Text.Encoding.UTF8.GetString(File.ReadAllBytes(events[0]));
        foreach (var tag in new[] { "reward/mean", "val/accuracy", "val/pass_at_k", "time/eval_s", "response/lengths", "reward/math_answer/mean" })
            Assert.Contains(tag, bytes);
    }

    [Fact]
    public void Run_BadEvalFile_NamesTheFileAndLine()
    {
        using var model = new TempDirectory();
        using var work = new TempDirectory();
        WriteModelFolder(model, TransformerPresets.Tiny.VocabSize);
        string prompts = WritePrompts(work);
        string output = Path.Combine(work.Path, "out");
        Exception Fails(HfRlOptions o) => Assert.ThrowsAny<Exception>(() => HfRlRun.Run(o, TextWriter.Null));

        var missing = Fails(Options(model.Path, prompts, output, 1) with { EvalPath = Path.Combine(work.Path, "nothere.jsonl") });
        Assert.IsType<FileNotFoundException>(missing);
        Assert.Contains("--eval: file", missing.Message);
        Assert.Contains("nothere.jsonl", missing.Message);

        string malformed = work.Write("heldout.jsonl", "{\"prompt\": \"1+1=\", \"answer\": \"2\"}\n{\"prompt\": 5}\n");
        var bad = Fails(Options(model.Path, prompts, output, 1) with { EvalPath = malformed });
        Assert.IsType<InvalidDataException>(bad);
        Assert.Contains("heldout.jsonl:2:", bad.Message);

        string noAnswer = work.Write("heldout2.jsonl", "{\"prompt\": \"1+1=\"}\n");
        Assert.Contains("heldout2.jsonl:1:", Fails(Options(model.Path, prompts, output, 1) with { EvalPath = noAnswer }).Message);

        var everyAlone = Assert.Throws<ArgumentException>(() => HfRlCommandLine.Parse(new[] { "--model", model.Path, "--prompts", prompts, "--eval-every", "5" }));
        Assert.Contains("--eval-every", everyAlone.Message);
        var zero = Assert.Throws<ArgumentException>(() => HfRlCommandLine.Parse(new[] { "--model", model.Path, "--prompts", prompts, "--eval", malformed, "--eval-k", "0" }));
        Assert.Contains("--eval-k", zero.Message);
        Assert.False(Directory.Exists(output), "no input error may leave an output folder behind");
    }

    [Fact]
    public void Run_BadInputs_GiveNamedErrors()
    {
        using var model = new TempDirectory();
        using var small = new TempDirectory();
        using var work = new TempDirectory();
        WriteModelFolder(model, TransformerPresets.Tiny.VocabSize);
        WriteModelFolder(small, vocabSize: 40);                                         // fewer ids than the tokenizer's 46
        string prompts = WritePrompts(work);
        string output = Path.Combine(work.Path, "out");
        Exception Fails(HfRlOptions o) => Assert.ThrowsAny<Exception>(() => HfRlRun.Run(o, TextWriter.Null));

        var noFolder = Fails(Options(Path.Combine(work.Path, "nowhere"), prompts, output, 1));
        Assert.IsType<DirectoryNotFoundException>(noFolder);
        Assert.Contains("--model", noFolder.Message);

        using var noWeights = new TempDirectory();
        noWeights.Write("config.json", File.ReadAllText(Path.Combine(model.Path, "config.json")));
        var missing = Fails(Options(noWeights.Path, prompts, output, 1));
        Assert.IsType<FileNotFoundException>(missing);
        Assert.Contains("model.safetensors", missing.Message);
        Assert.Contains("tokenizer", missing.Message);

        var vocab = Fails(Options(small.Path, prompts, output, 1));
        Assert.IsType<ArgumentException>(vocab);
        Assert.Contains("46 tokens", vocab.Message);
        Assert.Contains("vocab_size is 40", vocab.Message);

        string malformed = work.Write("bad.jsonl", "{\"prompt\": \"1+1=\", \"answer\": \"2\"}\n\n{not json\n");
        var json = Fails(Options(model.Path, malformed, output, 1));
        Assert.IsType<InvalidDataException>(json);
        Assert.Contains("bad.jsonl:3:", json.Message);

        string noAnswer = work.Write("noanswer.jsonl", "{\"prompt\": \"1+1=\", \"answer\": 2}\n{\"prompt\": \"2+2=\"}\n");
        var answer = Fails(Options(model.Path, noAnswer, output, 1));
        Assert.IsType<InvalidDataException>(answer);
        Assert.Contains("noanswer.jsonl:2:", answer.Message);

        // The tiny model's context is 256 positions; with 16 new tokens a prompt may have 240.
        string longPrompt = work.Write("long.jsonl", "{\"prompt\": \"1+1=\", \"answer\": \"2\"}\n" + JsonSerializer.Serialize(new { prompt = new string('1', 300), answer = "1" }) + "\n");
        var overlong = Fails(Options(model.Path, longPrompt, output, 1));
        Assert.IsType<ArgumentException>(overlong);
        Assert.Contains("long.jsonl:2:", overlong.Message);
        Assert.Contains("--overlong truncate-left", overlong.Message);

        var noModel = Assert.Throws<ArgumentException>(() => HfRlCommandLine.Parse(new[] { "--prompts", prompts }));
        Assert.Contains("--model", noModel.Message);
        var badFlag = Assert.Throws<ArgumentException>(() => HfRlCommandLine.Parse(new[] { "--model", model.Path, "--prompts", prompts, "--tlt", "maybe" }));
        Assert.Contains("--tlt", badFlag.Message);
        Assert.False(Directory.Exists(output), "no input error may leave an output folder behind");
    }
}
