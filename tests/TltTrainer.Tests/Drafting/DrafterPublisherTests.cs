using TltTrainer.Drafting;
using TltTrainer.Models;
using TltTrainer.Speculative;

namespace TltTrainer.Tests.Drafting;

public sealed class DrafterPublisherTests
{
    [Fact]
    public void Refresh_ManySwapsUnderConcurrentReaders_NeverExposesAMixedSnapshot()
    {
        var config = TransformerPresets.Tiny;
        using var publisher = new DrafterPublisher();
        using var trainer = new EagleDraftModel(config);
        const int Swaps = 300;
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        using var stop = new CancellationTokenSource();
        var readers = Enumerable.Range(0, 3).Select(r => new Thread(() =>
        {
            using var serving = new EagleDraftModel(config);
            long version = 0;
            int reads = 0;
            while (!stop.IsCancellationRequested || reads < 5)
            {
                version = publisher.Refresh(serving, version);
                reads++;
                if (version == 0) continue;
                // Every tensor of a snapshot was filled with its version number: all must agree.
                using var scope = torch.NewDisposeScope();
                foreach (var (name, t) in serving.state_dict())
                {
                    var (min, max) = (t.min().item<float>(), t.max().item<float>());
                    if (min != version || max != version) failures.Add($"reader {r}: {name} has [{min}, {max}] in version {version}");
                }
            }
        })).ToArray();
        foreach (var t in readers) t.Start();
        for (int v = 1; v <= Swaps; v++)
        {
            using (torch.no_grad()) foreach (var p in trainer.parameters()) p.fill_(v);
            Assert.Equal(v, publisher.Publish(trainer));
        }
        stop.Cancel();
        foreach (var t in readers) t.Join();
        Assert.Empty(failures);
        Assert.Equal(Swaps, publisher.LatestVersion);
    }

    [Fact]
    public void Acquire_NothingPublished_GivesEmptyLease()
    {
        using var publisher = new DrafterPublisher();
        using var lease = publisher.Acquire();
        Assert.Null(lease.Snapshot);
        using var serving = new EagleDraftModel(TransformerPresets.Tiny);
        Assert.Equal(0, publisher.Refresh(serving, 0));
    }
}
