using TltTrainer.Speculative;
using TltTrainer.Tasks;

namespace TltTrainer.Tests.TestSupport;

/// <summary>
/// The embedded target and its warm drafter, loaded once per test run from the on-disk cache (trained on the first run:
/// a few minutes on two cores). Shared by the tests of the "embedded" collection, which run one after another.
/// </summary>
public sealed class EmbeddedFixture : IDisposable
{
    public EmbeddedFixture()
    {
        Target = EmbeddedTarget.LoadOrTrain();
        Drafter = EmbeddedDrafter.LoadOrTrain(Target);
    }

    public EmbeddedTarget Target { get; }

    public EagleDraftModel Drafter { get; }

    public void Dispose()
    {
        Drafter.Dispose();
        Target.Dispose();
    }
}

[CollectionDefinition("embedded")]
public sealed class EmbeddedCollection : ICollectionFixture<EmbeddedFixture>;
