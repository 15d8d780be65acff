using System.Text.Json;
using HfRl;
using TltTrainer.IO;
using TltTrainer.Models;
using TltTrainer.Models.SafeTensors;
using TltTrainer.Rl;
using TltTrainer.Telemetry;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Samples;

/// <summary>
/// What a hostile user does to an HfRl run, each answered by a named error or a safe fallback: damaged checkpoints, two
/// runs on one output folder, an empty prompt, a resume with other settings, a policy that diverges, weights that are NaN.
/// </summary>
public sealed class HfRlHostileTests
{
    private const string Alphabet = "0123456789+-*=?. abcdefghijklmnopqrstuvwxyz";

    private sealed class Fixture : IDisposable
    {
        public readonly TempDirectory Model = new(), Work = new();
        public readonly string Prompts, Output;

        public Fixture()
        {
            TestTokenizers.CharLevel(Alphabet, Model);
            Model.Write("tokenizer_config.json", """{ "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>" }""");
            using var model = new CausalLM(TransformerPresets.Tiny with { BosTokenId = 1, EosTokenIds = new[] { 2 } }, seed: 7);
            HfCheckpoint.Save(model, Model.Path);
            var lines = new[] { ("1+2=", "3"), ("4+4=", "8"), ("9-5=", "4"), ("2*3=", "6") }.Select(p => JsonSerializer.Serialize(new { prompt = p.Item1, answer = p.Item2 }));
            Prompts = Work.Write("prompts.jsonl", string.Join("\n", lines) + "\n");
            Output = Path.Combine(Work.Path, "out");
        }

        public HfRlOptions Options(int steps) => new()
        {
            ModelDirectory = Model.Path, PromptsPath = Prompts, OutputDirectory = Output, Steps = steps, Seed = 3, CheckpointEvery = 1, LearningRate = 1e-3,
            GroupSize = 2, PromptsPerStep = 2, MaxNewTokens = 8, Workers = 1, Tlt = true, FormatPattern = @"\d",
        };

        public string Checkpoint(int step) => Path.Combine(Output, "checkpoints", $"step-{step:D6}");

        public void Dispose()
        {
            Model.Dispose();
            Work.Dispose();
        }
    }

    [Fact]
    public void Resume_LatestCheckpointLostOrTruncatedAFile_ResumesFromTheOneBefore_AndSaysWhy()
    {
        using var f = new Fixture();
        HfRlRun.Run(f.Options(steps: 2), TextWriter.Null);
        var optimizer = Path.Combine(f.Checkpoint(2), "optimizer.bin");
        File.WriteAllBytes(optimizer, File.ReadAllBytes(optimizer)[..10]);                   // truncated
        var log = new StringWriter();
        var resumed = HfRlRun.Run(f.Options(steps: 3) with { Resume = true }, log);
        Assert.Equal(1, resumed.StartStep);
        Assert.Contains("step-000002 is not a complete checkpoint (optimizer.bin has 10 bytes where the manifest says", log.ToString());

        // A run whose only checkpoint lost its state file has nothing to resume from, and says which file is missing.
        File.Delete(Path.Combine(f.Checkpoint(1), "trainer_state.json"));
        foreach (var step in new[] { 2, 3 }) Directory.Delete(f.Checkpoint(step), recursive: true);
        var e = Assert.Throws<ArgumentException>(() => HfRlRun.Run(f.Options(steps: 3) with { Resume = true }, TextWriter.Null));
        Assert.Contains("step-000001: trainer_state.json is missing", e.Message);
        var fresh = Assert.Throws<ArgumentException>(() => HfRlRun.Run(f.Options(steps: 3), TextWriter.Null));
        Assert.Contains("already holds checkpoints (step-000001, incomplete)", fresh.Message);
    }

    [Theory]
    [InlineData("trainer_state.json")]
    [InlineData("optimizer.bin")]
    public void Resume_FileCorruptedInPlace_FailsNamingTheFile(string file)
    {
        using var f = new Fixture();
        HfRlRun.Run(f.Options(steps: 1), TextWriter.Null);
        var path = Path.Combine(f.Checkpoint(1), file);
        var bytes = File.ReadAllBytes(path);
        Array.Fill(bytes, (byte)'{');                                                          // same size: the manifest cannot tell
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => HfRlRun.Run(f.Options(steps: 2) with { Resume = true }, TextWriter.Null));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Run_OnAnOutputFolderAnotherRunHolds_IsRefusedNamingIt()
    {
        using var f = new Fixture();
        using (DirectoryLock.Acquire(f.Output, "--out"))
        {
            var e = Assert.Throws<IOException>(() => HfRlRun.Run(f.Options(steps: 1), TextWriter.Null));
            Assert.Contains("--out", e.Message);
            Assert.Contains("in use by another run", e.Message);
        }
        Assert.Single(HfRlRun.Run(f.Options(steps: 1), TextWriter.Null).Steps);                  // free again
    }

    [Fact]
    public void Run_EmptyPrompt_IsRefusedNamingTheLine()
    {
        using var f = new Fixture();
        string prompts = f.Work.Write("empty.jsonl", "{\"prompt\": \"1+1=\", \"answer\": \"2\"}\n{\"prompt\": \"  \", \"answer\": \"0\"}\n");
        var e = Assert.Throws<InvalidDataException>(() => HfRlRun.Run(f.Options(steps: 1) with { PromptsPath = prompts }, TextWriter.Null));
        Assert.Contains("empty.jsonl:2:", e.Message);
        Assert.False(Directory.Exists(f.Output));
    }

    [Fact]
    public void Resume_WithOtherSettings_IsRefusedNamingTheFlags_OrRecordedWhenAllowed()
    {
        using var f = new Fixture();
        HfRlRun.Run(f.Options(steps: 1), TextWriter.Null);
        string other = f.Work.Write("other.jsonl", "{\"prompt\": \"5+5=\", \"answer\": \"10\"}\n");
        var changed = f.Options(steps: 2) with { Resume = true, GroupSize = 4, LearningRate = 1e-4, Tlt = false, PromptsPath = other };
        var e = Assert.Throws<ArgumentException>(() => HfRlRun.Run(changed, TextWriter.Null));
        foreach (var expected in new[] { "--group 2 → 4", "--lr 0.001 → 0.0001", "--tlt on → off", "--prompts 4 prompts" })
            Assert.Contains(expected, e.Message);
        Assert.Throws<ArgumentException>(() => HfRlCommandLine.Parse(new[] { "--model", "m", "--prompts", "p", "--allow-changed-settings" }));

        var log = new StringWriter();
        var allowed = HfRlRun.Run(changed with { AllowChangedSettings = true }, log);
        Assert.Contains("settings changed since the checkpoint", log.ToString());
        var lines = File.ReadLines(allowed.MetricsPath).Select(l => JsonSerializer.Deserialize<StepMetrics>(l)!).ToList();
        Assert.Null(lines[0].SettingsChanged);
        Assert.Contains(lines[1].SettingsChanged!, c => c == "GroupSize 2 → 4");
    }

    [Fact]
    public void Run_ModelWithNaNWeights_IsRefusedNamingTheTensor()
    {
        using var f = new Fixture();
        PoisonFirstWeight(Path.Combine(f.Model.Path, SafeTensorsCheckpoint.SingleFileName), float.NaN);
        var e = Assert.Throws<InvalidDataException>(() => HfRlRun.Run(f.Options(steps: 1), TextWriter.Null));
        Assert.Contains("holds NaN or infinite values", e.Message);
    }

    [Fact]
    public void Run_PolicyThatDiverges_StopsNamingTheLastGoodCheckpoint_AndSavesNothingAfterIt()
    {
        using var f = new Fixture();
        HfRlRun.Run(f.Options(steps: 1), TextWriter.Null);
        // A policy that computes NaN, as a diverged update leaves it (the trainer never checkpoints one: this one is forged).
        PoisonFirstWeight(Path.Combine(f.Checkpoint(1), "policy", SafeTensorsCheckpoint.SingleFileName), float.NaN);
        var result = HfRlRun.Run(f.Options(steps: 3) with { Resume = true }, TextWriter.Null);
        Assert.NotNull(result.Diverged);
        Assert.Contains("diverged in RL step 1", result.Diverged);
        Assert.Contains("step-000001", result.Diverged);
        Assert.Empty(result.Steps);
        Assert.False(Directory.Exists(f.Checkpoint(2)));
        Assert.Equal(f.Checkpoint(1), RlCheckpoint.Latest(Path.Combine(f.Output, "checkpoints")));
    }

    /// <summary>Overwrites the first float of the first tensor's data in a safetensors file (its size stays).</summary>
    private static void PoisonFirstWeight(string file, float value)
    {
        var bytes = File.ReadAllBytes(file);
        long headerLength = BitConverter.ToInt64(bytes, 0);
        BitConverter.GetBytes(value).CopyTo(bytes, 8 + headerLength);
        File.WriteAllBytes(file, bytes);
    }
}
