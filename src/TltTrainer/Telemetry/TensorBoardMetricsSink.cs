// TensorBoard event files from step metrics. TorchSharp 0.107 has a writer
// (torch.utils.tensorboard.SummaryWriter), but it stamps the file-version event with DateTime.Now.Ticks
// (100 ns units since year 1, read by TensorBoard as seconds since 1970), keeps scalar wall times as float
// Unix seconds (128 s resolution), reopens the file for every event and has no flush or dispose; so the
// records are written here: TFRecord framing with masked CRC-32C (TensorBoard/TfRecordWriter) around
// Event/Summary protobufs encoded by hand (TensorBoard/EventEncoder).
// Tags are the JSONL names: every numeric field is a scalar (reward/mean, time/rollout_s, ...), each
// number of a nested map one more (rollout/arm_choices/KEY, val/bucket_accuracy/KEY), the flat
// reward/NAME/mean keys as they are, and the per-response lists are histograms (response/lengths,
// rollout/accept_lens). One file per sink, flushed after every step.
using System.Text.Json;
using TltTrainer.Telemetry.TensorBoard;

namespace TltTrainer.Telemetry;

/// <summary>Writes each step's metrics to a TensorBoard event file (<c>tensorboard --logdir DIR</c> shows them).</summary>
public sealed class TensorBoardMetricsSink : IMetricsSink, IDisposable
{
    private static int s_files;
    private readonly FileStream _file;
    private readonly TfRecordWriter _records;
    private readonly TimeProvider _clock;

    /// <summary>Creates <paramref name="logDirectory"/> if needed and a new event file in it.</summary>
    /// <param name="logDirectory">The run's folder (give each run its own, e.g. <c>tb/on</c> and <c>tb/off</c>, to compare them).</param>
    /// <param name="clock">Source of the events' wall time; default the system clock.</param>
    /// <exception cref="ArgumentException"><paramref name="logDirectory"/> is empty.</exception>
    /// <exception cref="IOException">The folder or file cannot be created.</exception>
    public TensorBoardMetricsSink(string logDirectory, TimeProvider? clock = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(logDirectory);
        _clock = clock ?? TimeProvider.System;
        Directory.CreateDirectory(logDirectory);
        // TensorBoard reads every file whose name contains "tfevents"; the counter keeps two sinks of one process apart.
        string name = $"events.out.tfevents.{_clock.GetUtcNow().ToUnixTimeSeconds():D10}.{Environment.MachineName}.{Environment.ProcessId}.{Interlocked.Increment(ref s_files)}";
        FilePath = Path.Combine(Path.GetFullPath(logDirectory), name);
        _file = new FileStream(FilePath, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
        _records = new TfRecordWriter(_file);
        _records.Write(EventEncoder.FileVersion(WallTime()));
        _file.Flush();
    }

    /// <summary>The event file.</summary>
    public string FilePath { get; }

    /// <summary>Appends the step's scalars and histograms as one event and flushes the file.</summary>
    public void Write(StepMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var scalars = new List<(string, float)>();
        var histograms = new List<(string, Histogram)>();
        foreach (var field in JsonSerializer.SerializeToElement(metrics).EnumerateObject())
        {
            if (field.Name == "step") continue;
            switch (field.Value.ValueKind)
            {
                case JsonValueKind.Number:
                    scalars.Add((field.Name, (float)field.Value.GetDouble()));
                    break;
                case JsonValueKind.Object:
                    foreach (var entry in field.Value.EnumerateObject().Where(e => e.Value.ValueKind == JsonValueKind.Number))
                        scalars.Add(($"{field.Name}/{entry.Name}", (float)entry.Value.GetDouble()));
                    break;
                case JsonValueKind.Array when field.Value.GetArrayLength() > 0 && field.Value.EnumerateArray().All(v => v.ValueKind == JsonValueKind.Number):
                    histograms.Add((field.Name, Histogram.Of(field.Value.EnumerateArray().Select(v => v.GetDouble()).ToList())));
                    break;
            }
        }
        _records.Write(EventEncoder.Summary(WallTime(), metrics.Step, scalars, histograms));
        _file.Flush();
    }

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();

    private double WallTime() => _clock.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;
}
