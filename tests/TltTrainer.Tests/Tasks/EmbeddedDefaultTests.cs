using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tasks;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Tasks;

/// <summary>The embedded default: a trained target that mostly solves short chains, and a drafter that learns it.</summary>
[Collection("embedded")]
public sealed class EmbeddedDefaultTests(EmbeddedFixture fixture)
{
    [Fact]
    public void Target_GreedyAccuracy_MostlySolvesShortChains()
    {
        var task = new ChainArithmeticTask(new ChainArithmeticOptions { Seed = 901 });
        var shortChains = Enumerable.Range(2, 5).SelectMany(n => task.SampleWithTerms(n, 12)).ToList();
        var eval = fixture.Target.Evaluate(shortChains);
        Assert.True(eval.Accuracy >= 0.8, $"greedy accuracy on 2–6 terms {eval.Accuracy:P0}\n{eval}");
    }

    [Fact]
    public void TrainedDrafter_RaisesAcceptedLengthFromUntrained_AtTemperature1()
    {
        var target = fixture.Target.Model;
        var tokenizer = ChainArithmeticTextTokenizer.Instance;
        var task = new ChainArithmeticTask(new ChainArithmeticOptions { Seed = 902 });   // held-out prompts
        var requests = task.Sample(16).Select((e, i) => new RolloutRequest(i, tokenizer.Encode(e.Prompt),
            new SamplingOptions { Temperature = 1.0, MaxNewTokens = 300, StopTokens = new HashSet<int> { tokenizer.EosId!.Value }, Seed = (ulong)i })).ToList();
        double AcceptLength(EagleDraftModel model)
        {
            using var drafter = new EagleDrafter(target, model);
            return new RolloutEngine(target, new RolloutEngineOptions { Drafter = drafter, Strategy = SpecStrategy.ChainOf(5, sample: false) })
                .Generate(requests).Metrics.MeanAcceptLength;
        }
        using var untrained = new EagleDraftModel(target.Config, seed: 1);
        double before = AcceptLength(untrained);
        double after = AcceptLength(fixture.Drafter);
        Assert.True(before < 1.6, $"untrained accepted length {before:F2}");
        Assert.True(after >= 3.0, $"trained accepted length {after:F2} (untrained {before:F2})");
    }
}
