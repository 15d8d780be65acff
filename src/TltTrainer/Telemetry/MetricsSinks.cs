// Where step metrics go. A JSONL file (one object per line, appended and flushed per step so a killed
// run loses at most the line being written) and an ILogger sink; several sinks can be combined.
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace TltTrainer.Telemetry;

/// <summary>Receives one <see cref="StepMetrics"/> per RL step.</summary>
public interface IMetricsSink
{
    /// <summary>Records a step.</summary>
    void Write(StepMetrics metrics);
}

/// <summary>Appends each step as one JSON line to a file (created, with its folder, at the first step: a run that fails before it leaves none).</summary>
public sealed class JsonlMetricsSink : IMetricsSink, IDisposable
{
    private StreamWriter? _writer;

    /// <summary>Appends to <paramref name="path"/> from the first <see cref="Write"/> on.</summary>
    public JsonlMetricsSink(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public void Write(StepMetrics metrics)
    {
        if (_writer is null)
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!);
            _writer = new StreamWriter(new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read));
        }
        _writer.WriteLine(JsonSerializer.Serialize(metrics));
        _writer.Flush();
    }

    /// <inheritdoc />
    public void Dispose() => _writer?.Dispose();
}

/// <summary>Logs a one-line summary of each step.</summary>
public sealed partial class LoggerMetricsSink(ILogger logger) : IMetricsSink
{
    /// <inheritdoc />
    public void Write(StepMetrics m) => LogStep(logger, m.Step, m.RewardMean, m.ResponseLengthMean, m.AcceptLength, m.StepSeconds, m.RolloutSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "step {Step}: reward {Reward:F3}, length {Length:F1}, accept {Accept:F2}, {StepSeconds:F2}s (rollout {RolloutSeconds:F2}s)")]
    private static partial void LogStep(ILogger logger, int step, double reward, double length, double accept, double stepSeconds, double rolloutSeconds);
}

/// <summary>Sends each step to every sink in a list.</summary>
public sealed class CompositeMetricsSink(IReadOnlyList<IMetricsSink> sinks) : IMetricsSink
{
    /// <inheritdoc />
    public void Write(StepMetrics metrics)
    {
        foreach (var sink in sinks) sink.Write(metrics);
    }
}
