using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tasks;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Speculative;

/// <summary>
/// Coupled drafting of sampled requests: the trained drafter proposes the Gumbel-max of its own distribution under the noise the
/// target draws with, so its drafts are accepted far more often than its argmax, close to rejection sampling's rate, while
/// the output stays plain sampling's token for token (rejection sampling's does not).
/// </summary>
[Collection("embedded")]
public sealed class DraftProposalTests(EmbeddedFixture fixture)
{
    // The embedded target is nearly deterministic at temperature 1 (arithmetic), where the three proposals accept about
    // equally; at 2 its distributions are wide enough to tell them apart.
    private const double Temperature = 2.0;

    private (double Accept, IReadOnlyList<int[]> Tokens) Generate(DraftProposal? proposal)
    {
        var tokenizer = ChainArithmeticTextTokenizer.Instance;
        var prompts = new ChainArithmeticTask(new ChainArithmeticOptions { Seed = 71, MinTerms = 4, MaxTerms = 10 }).Sample(24);
        using var drafter = new EagleDrafter(fixture.Target.Model, fixture.Drafter);
        var requests = prompts.Select((e, i) => new RolloutRequest(i, tokenizer.Encode(e.Prompt),
            new SamplingOptions { Temperature = Temperature, MaxNewTokens = 120, StopTokens = new HashSet<int> { tokenizer.EosId!.Value }, Seed = (ulong)(500 + i) })).ToList();
        var result = new RolloutEngine(fixture.Target.Model, new RolloutEngineOptions
        {
            MaxRunningBatch = 4, Drafter = proposal is null ? null : drafter, Strategy = SpecStrategy.ChainOf(5, proposal ?? DraftProposal.Coupled),
        }).Generate(requests);
        return (result.Metrics.MeanAcceptLength, result.Trajectories.Select(t => t.ResponseTokens).ToList());
    }

    [Fact]
    public void CoupledChain_Sampled_AcceptsMoreThanArgmax_NearRejection_AndEqualsPlainSampling()
    {
        var plain = Generate(null);
        var coupled = Generate(DraftProposal.Coupled);
        var argmax = Generate(DraftProposal.Argmax);
        var rejection = Generate(DraftProposal.Rejection);
        string report = $"mean accepted length at T = {Temperature}: argmax {argmax.Accept:F2}, coupled {coupled.Accept:F2}, rejection {rejection.Accept:F2}";
        Console.WriteLine(report);
        for (int i = 0; i < plain.Tokens.Count; i++)
        {
            Assert.Equal(plain.Tokens[i], coupled.Tokens[i]);
            Assert.Equal(plain.Tokens[i], argmax.Tokens[i]);
        }
        Assert.Contains(Enumerable.Range(0, plain.Tokens.Count), i => !plain.Tokens[i].SequenceEqual(rejection.Tokens[i]));
        // The gain over argmax, relative to what rejection sampling gains over it: coupling recovers most of it.
        Assert.True(coupled.Accept > argmax.Accept, report);
        Assert.True(coupled.Accept - argmax.Accept >= 0.5 * (rejection.Accept - argmax.Accept), report);
    }
}
