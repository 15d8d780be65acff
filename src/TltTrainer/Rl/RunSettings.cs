// The settings of an RL run that a checkpoint records, so that a resume with different data or a different
// recipe is noticed instead of silently mixing two runs: the prompt set (a hash of every example), the group
// size, prompts per step, learning rate, sampling temperature and response budget, and whether TLT was on.
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace TltTrainer.Rl;

/// <summary>What an RL run was started with (recorded in checkpoints, compared on resume).</summary>
/// <param name="PromptsSha256">SHA-256 of the prompt set (every prompt and answer, in order), lowercase hex.</param>
/// <param name="Prompts">Number of prompts.</param>
/// <param name="GroupSize">Responses per prompt.</param>
/// <param name="PromptsPerStep">Prompts per step.</param>
/// <param name="LearningRate">Peak learning rate.</param>
/// <param name="Temperature">Sampling temperature.</param>
/// <param name="MaxNewTokens">Response budget.</param>
/// <param name="Tlt">Whether online drafter training (TLT) was on.</param>
public sealed record RunSettings(string PromptsSha256, int Prompts, int GroupSize, int PromptsPerStep, double LearningRate, double Temperature,
    int MaxNewTokens, bool Tlt)
{
    /// <summary>SHA-256 of a prompt set (prompt and answer of every example, in order).</summary>
    public static string HashPrompts(IReadOnlyList<PromptExample> examples)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var e in examples)
        {
            sha.AppendData(Encoding.UTF8.GetBytes(e.Prompt));
            sha.AppendData(new byte[] { 0 });
            sha.AppendData(Encoding.UTF8.GetBytes(e.Answer ?? "\u0001"));   // no answer differs from an empty one
            sha.AppendData(new byte[] { 0 });
        }
        return Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
    }

    /// <summary>The settings that differ between <paramref name="saved"/> (the checkpoint's) and this run's.</summary>
    public IReadOnlyList<SettingChange> ChangesFrom(RunSettings saved)
    {
        var changes = new List<SettingChange>();
        void Compare<T>(string name, T before, T now, Func<T, string>? show = null)
        {
            if (!EqualityComparer<T>.Default.Equals(before, now))
                changes.Add(new SettingChange(name, (show ?? (v => Convert.ToString(v, CultureInfo.InvariantCulture) ?? ""))(before), (show ?? (v => Convert.ToString(v, CultureInfo.InvariantCulture) ?? ""))(now)));
        }
        if (saved.PromptsSha256 != PromptsSha256)
            changes.Add(new SettingChange("Prompts", $"{saved.Prompts} prompts (sha256 {saved.PromptsSha256[..12]}…)", $"{Prompts} prompts (sha256 {PromptsSha256[..12]}…)"));
        Compare(nameof(GroupSize), saved.GroupSize, GroupSize);
        Compare(nameof(PromptsPerStep), saved.PromptsPerStep, PromptsPerStep);
        Compare(nameof(LearningRate), saved.LearningRate, LearningRate, v => v.ToString("g6", CultureInfo.InvariantCulture));
        Compare(nameof(Temperature), saved.Temperature, Temperature, v => v.ToString("g6", CultureInfo.InvariantCulture));
        Compare(nameof(MaxNewTokens), saved.MaxNewTokens, MaxNewTokens);
        Compare(nameof(Tlt), saved.Tlt, Tlt, v => v ? "on" : "off");
        return changes;
    }
}

/// <summary>One setting that differs between a checkpoint and the run resuming from it.</summary>
/// <param name="Name">The setting (a <see cref="RunSettings"/> property name).</param>
/// <param name="Saved">Its value in the checkpoint.</param>
/// <param name="Current">Its value in this run.</param>
public sealed record SettingChange(string Name, string Saved, string Current)
{
    /// <inheritdoc />
    public override string ToString() => $"{Name} {Saved} → {Current}";
}

/// <summary>A checkpoint was written with other run settings than the trainer resuming from it.</summary>
public sealed class CheckpointSettingsException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public CheckpointSettingsException(string checkpoint, IReadOnlyList<SettingChange> changes)
        : base($"{checkpoint} was written with other settings: {string.Join("; ", changes)}. Resume with the same settings, or allow the changes "
            + "explicitly (they are then recorded in the next step's metrics).")
    {
        Checkpoint = checkpoint;
        Changes = changes;
    }

    /// <summary>The checkpoint folder.</summary>
    public string Checkpoint { get; }

    /// <summary>What differs.</summary>
    public IReadOnlyList<SettingChange> Changes { get; }
}
