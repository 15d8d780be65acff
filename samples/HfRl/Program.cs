// HfRl: RL with TLT on a local HuggingFace model (Llama/Qwen2 folder) and a JSONL prompt file with answers.
//   dotnet run -c Release --project samples/HfRl -- --model DIR --prompts FILE.jsonl [--steps N] [--out DIR] [--resume] ...
// The run itself is HfRlRun (callable in-process); this file parses flags, wires Ctrl+C and maps input
// errors to one line and exit code 2.
using HfRl;
using TorchSharp;

HfRlOptions options;
try { options = HfRlOptions.Parse(args); }
catch (ArgumentException e)
{
    Console.Error.WriteLine($"hfrl: {e.Message}");
    Console.Error.WriteLine(HfRlOptions.Usage);
    return 2;
}
torch.set_num_threads(Environment.ProcessorCount);

// Ctrl+C stops after the current decode step; the steps done are checkpointed.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); Console.WriteLine("Stopping (Ctrl+C)..."); };
try
{
    var result = HfRlRun.Run(options, Console.Out, cancel.Token);
    Console.WriteLine($"Metrics: {Path.GetFullPath(result.MetricsPath)}");
    return result.Cancelled ? 130 : 0;
}
catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException)
{
    // FileNotFoundException and DirectoryNotFoundException are IOExceptions; the messages name the file, line or option.
    Console.Error.WriteLine($"hfrl: {e.Message}");
    return 2;
}
