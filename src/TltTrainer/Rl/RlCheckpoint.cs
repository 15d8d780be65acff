// Checkpoints of an RL run. A checkpoint is a folder step-NNNNNN under the run's checkpoint root with the
// policy (HF layout safetensors), the optimizer state, the drafter (if any) and trainer_state.json (step,
// optimizer steps, sampler position, seed). It is written into a temporary sibling folder and renamed
// into place, and the root's "latest" file is replaced atomically afterwards, so a process killed
// mid-write leaves the previous checkpoint loadable. Request seeds and mini-batch shuffles derive from
// (seed, step), so restoring these parts is enough for a resumed run to continue exactly.
using System.Text.Json;
using TltTrainer.IO;
using TltTrainer.Models;
using TltTrainer.Models.SafeTensors;
using TltTrainer.Speculative;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TltTrainer.Rl;

/// <summary>The trainer's own state in a checkpoint.</summary>
/// <param name="Step">RL steps completed.</param>
/// <param name="OptimizerSteps">Optimizer steps taken (drives the learning-rate schedule).</param>
/// <param name="Sampler">Prompt sampler position.</param>
/// <param name="Seed">Run seed.</param>
/// <param name="DrafterVersion">Published drafter version, if any.</param>
public sealed record TrainerState(int Step, int OptimizerSteps, SamplerState Sampler, ulong Seed, long DrafterVersion = 0);

/// <summary>Locating, writing and reading RL checkpoints.</summary>
public static class RlCheckpoint
{
    /// <summary>File under the root that names the newest complete checkpoint folder.</summary>
    public const string LatestFile = "latest";

    /// <summary>
    /// The newest complete checkpoint under <paramref name="root"/>, or null. The "latest" pointer is
    /// trusted when it names a complete folder; otherwise (a process killed between the steps of a write,
    /// or a pointer edited by hand) the newest complete <c>step-NNNNNN</c> folder is used.
    /// </summary>
    public static string? Latest(string root)
    {
        var pointer = Path.Combine(root, LatestFile);
        if (File.Exists(pointer))
        {
            var named = Path.Combine(root, File.ReadAllText(pointer).Trim());
            if (IsComplete(named)) return named;
        }
        if (!Directory.Exists(root)) return null;
        return Directory.GetDirectories(root, "step-*")
            .Where(d => int.TryParse(Path.GetFileName(d).AsSpan(5), out _) && IsComplete(d))
            .OrderByDescending(d => int.Parse(Path.GetFileName(d).AsSpan(5)))
            .FirstOrDefault();
    }

    /// <summary>True when <paramref name="dir"/> holds a whole checkpoint (its state file is written last).</summary>
    public static bool IsComplete(string dir) => File.Exists(Path.Combine(dir, "trainer_state.json"));

    internal static string Write(string root, TrainerState state, CausalLM policy, OptimizerHelper optimizer, EagleDraftModel? drafter)
    {
        Directory.CreateDirectory(root);
        string name = $"step-{state.Step:D6}";
        string final = Path.Combine(root, name);
        string temp = Path.Combine(root, $".{name}.tmp-{Guid.NewGuid():N}");
        try
        {
            HfCheckpoint.Save(policy, Path.Combine(temp, "policy"));
            AtomicFile.Write(Path.Combine(temp, "optimizer.bin"), stream =>
            {
                using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
                optimizer.save_state_dict(writer);
            });
            drafter?.Save(Path.Combine(temp, "drafter.safetensors"));
            AtomicFile.WriteAllText(Path.Combine(temp, "trainer_state.json"), JsonSerializer.Serialize(state, new JsonSerializerOptions { WriteIndented = true }));
            // Re-saving the same step: move the old folder aside (not delete) so a kill here leaves a whole copy.
            string? aside = null;
            if (Directory.Exists(final)) Directory.Move(final, aside = Path.Combine(root, $".{name}.old-{Guid.NewGuid():N}"));
            Directory.Move(temp, final);
            AtomicFile.WriteAllText(Path.Combine(root, LatestFile), name);
            if (aside is not null) TryDelete(aside);
            foreach (var stale in Directory.GetDirectories(root, ".step-*.tmp-*").Concat(Directory.GetDirectories(root, ".step-*.old-*"))) TryDelete(stale);
            return final;
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    internal static TrainerState Read(string dir, CausalLM policy, OptimizerHelper optimizer, EagleDraftModel? drafter)
    {
        var statePath = Path.Combine(dir, "trainer_state.json");
        if (!IsComplete(dir)) throw new FileNotFoundException($"Not a complete checkpoint (no trainer_state.json): {dir}", statePath);
        var state = JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(statePath))
            ?? throw new InvalidDataException($"{statePath}: empty trainer state.");
        var weights = SafeTensorsCheckpoint.LoadWeights(Path.Combine(dir, "policy"));
        try { HfCheckpoint.LoadWeights(policy, weights, Path.Combine(dir, "policy")); }
        finally { foreach (var t in weights.Values) t.Dispose(); }
        using (var stream = File.OpenRead(Path.Combine(dir, "optimizer.bin")))
        using (var reader = new BinaryReader(stream))
            optimizer.load_state_dict(reader);
        var drafterPath = Path.Combine(dir, "drafter.safetensors");
        if (drafter is not null && File.Exists(drafterPath))
        {
            var d = SafeTensorsReader.Load(drafterPath);
            try { drafter.CopyFrom(d, drafterPath); }
            finally { foreach (var t in d.Values) t.Dispose(); }
        }
        return state;
    }

    private static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
