// One run as the report sees it: a name ("off", "on", or any label) and its step metrics.
using TltTrainer.Telemetry;

namespace TltTrainer.Reporting;

/// <summary>A named RL run for <see cref="RunReport"/>.</summary>
/// <param name="Name">Label in charts and tables (e.g. "off", "on"); letters, digits, '-' and '_' only (it names files).</param>
/// <param name="Steps">The run's metrics, one per RL step, in order.</param>
public sealed record ReportRun(string Name, IReadOnlyList<StepMetrics> Steps)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the problem.</summary>
    public ReportRun Validate()
    {
        if (string.IsNullOrEmpty(Name) || !Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            throw new ArgumentException($"run name '{Name}' must be non-empty and use only letters, digits, '-' and '_' (it names files).");
        if (Steps is null || Steps.Count == 0) throw new ArgumentException($"run '{Name}' has no steps to report.");
        return this;
    }
}
