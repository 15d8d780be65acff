// Checkpoints of an RL run. A checkpoint is a folder step-NNNNNN under the run's checkpoint root with the
// policy (HF layout safetensors), the optimizer state, the drafter (if any), trainer_state.json (step,
// optimizer steps, sampler position, seed, run settings) and, written last, manifest.json listing every
// file with its size (CheckpointManifest): a folder is a checkpoint only if all of them are there. It is
// written into a temporary sibling folder and renamed into place, and the root's "latest" file is replaced
// atomically afterwards, so a process killed mid-write leaves the previous checkpoint loadable. Request
// seeds, sampling noise and mini-batch shuffles derive from (seed, step), so restoring these parts is
// enough for a resumed run to continue exactly. A file that cannot be read is named in the error.
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
/// <param name="Settings">The run's settings (null in checkpoints that predate them).</param>
public sealed record TrainerState(int Step, int OptimizerSteps, SamplerState Sampler, ulong Seed, long DrafterVersion = 0, RunSettings? Settings = null);

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

    /// <summary>True when <paramref name="dir"/> holds a whole checkpoint (its manifest, written last, lists files that are all there).</summary>
    public static bool IsComplete(string dir) => Problem(dir) is null;

    /// <summary>Why <paramref name="dir"/> is not a complete checkpoint (e.g. "optimizer.bin is missing"), or null when it is.</summary>
    public static string? Problem(string dir) => CheckpointManifest.Problem(dir, StateFile);

    /// <summary>The <c>step-NNNNNN</c> folders under <paramref name="root"/> that are not complete checkpoints, with the reason for each.</summary>
    public static IReadOnlyList<(string Directory, string Problem)> Incomplete(string root) =>
        !Directory.Exists(root) ? Array.Empty<(string, string)>()
            : Directory.GetDirectories(root, "step-*").Select(d => (d, Problem(d))).Where(x => x.Item2 is not null)
                .Select(x => (x.d, x.Item2!)).OrderBy(x => x.d, StringComparer.Ordinal).ToList();

    private const string StateFile = "trainer_state.json", OptimizerFile = "optimizer.bin", DrafterFile = "drafter.safetensors";

    internal static string Write(string root, TrainerState state, CausalLM policy, Optimization.RootedAdamW optimizer, EagleDraftModel? drafter)
    {
        Directory.CreateDirectory(root);
        string name = $"step-{state.Step:D6}";
        string final = Path.Combine(root, name);
        string temp = Path.Combine(root, $".{name}.tmp-{Guid.NewGuid():N}");
        try
        {
            HfCheckpoint.Save(policy, Path.Combine(temp, "policy"));
            AtomicFile.Write(Path.Combine(temp, OptimizerFile), stream =>
            {
                using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
                optimizer.Save(writer);
            });
            drafter?.Save(Path.Combine(temp, DrafterFile));
            AtomicFile.WriteAllText(Path.Combine(temp, StateFile), JsonSerializer.Serialize(state, new JsonSerializerOptions { WriteIndented = true }));
            CheckpointManifest.Write(temp);                                  // last: it makes the folder a checkpoint
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

    /// <summary>The trainer state of a complete checkpoint, without loading any weights.</summary>
    /// <exception cref="InvalidDataException">The folder is not a complete checkpoint, or its state file is malformed; the message names it.</exception>
    public static TrainerState ReadState(string dir)
    {
        if (Problem(dir) is { } problem) throw new InvalidDataException($"{dir}: not a complete checkpoint: {problem}.");
        var statePath = Path.Combine(dir, StateFile);
        var state = Named(statePath, "trainer state", () => JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(statePath)));
        if (state?.Sampler is null) throw new InvalidDataException($"{statePath}: not a trainer state (it lacks the sampler position).");
        return state;
    }

    internal static TrainerState Read(string dir, CausalLM policy, Optimization.RootedAdamW optimizer, EagleDraftModel? drafter)
    {
        var state = ReadState(dir);
        var weights = SafeTensorsCheckpoint.LoadWeights(Path.Combine(dir, "policy"));
        try { HfCheckpoint.LoadWeights(policy, weights, Path.Combine(dir, "policy")); }
        finally { foreach (var t in weights.Values) t.Dispose(); }
        var optimizerPath = Path.Combine(dir, OptimizerFile);
        Named(optimizerPath, "optimizer state", () =>
        {
            using var stream = File.OpenRead(optimizerPath);
            using var reader = new BinaryReader(stream);
            optimizer.Load(reader);
            if (stream.Position != stream.Length) throw new InvalidDataException($"{stream.Length - stream.Position} bytes follow the state");
            return true;
        });
        var drafterPath = Path.Combine(dir, DrafterFile);
        if (drafter is not null && File.Exists(drafterPath))
        {
            var d = Named(drafterPath, "drafter", () => SafeTensorsReader.Load(drafterPath));
            try { drafter.CopyFrom(d, drafterPath); }
            finally { foreach (var t in d.Values) t.Dispose(); }
        }
        return state;
    }

    /// <summary>Runs a read of <paramref name="path"/>; a malformed file becomes an <see cref="InvalidDataException"/> that names it.</summary>
    private static T Named<T>(string path, string what, Func<T> read)
    {
        try { return read(); }
        catch (Exception e) when (e is JsonException or EndOfStreamException or InvalidDataException or FormatException or ArgumentException
            or NotSupportedException or System.Runtime.InteropServices.ExternalException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: not a valid {what} ({e.GetType().Name}: {e.Message}).", e);
        }
    }

    private static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
