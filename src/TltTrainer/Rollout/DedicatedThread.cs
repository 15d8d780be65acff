// A long-lived thread that runs jobs one after another. Rollout workers need one: libtorch's first
// forward on a new OS thread pays a one-off warm-up (measured 1.25 s for the embedded default on one
// core: intra-op pool and kernel caches are per thread), so a thread per rollout paid it every RL step.
using System.Collections.Concurrent;
using TorchSharp;

namespace TltTrainer.Rollout;

/// <summary>One background thread with a fixed intra-op thread budget, fed jobs through a queue.</summary>
internal sealed class DedicatedThread : IDisposable
{
    private readonly BlockingCollection<Action> _jobs = new();
    private readonly Thread _thread;

    public DedicatedThread(string name, int intraOpThreads)
    {
        _thread = new Thread(() =>
        {
            torch.set_num_threads(intraOpThreads);       // per thread (OpenMP semantics)
            foreach (var job in _jobs.GetConsumingEnumerable()) job();
        }) { Name = name, IsBackground = true };
        _thread.Start();
    }

    /// <summary>Queues <paramref name="job"/>; the task completes (or faults) when it has run.</summary>
    public Task Run(Action job)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _jobs.Add(() =>
        {
            try
            {
                job();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task;
    }

    public void Dispose()
    {
        _jobs.CompleteAdding();
        if (Thread.CurrentThread != _thread) _thread.Join();
        _jobs.Dispose();
    }
}
