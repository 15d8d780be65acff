using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Rollout;

/// <summary>
/// Invariant 9: a speculative round never asks for more cache room or more new tokens than a row has left. Near the limit
/// the drafts shrink (to nothing: a plain step) and the output stays exactly plain decoding's. The drafter here is hostile:
/// it always proposes a full-size draft, whatever room the rows have, so the engine alone must keep every round in bounds.
/// </summary>
public sealed class ContextLimitTests
{
    private const int Budget = 12;                                 // nodes the hostile drafter proposes every round
    private static readonly TransformerConfig Config = TransformerPresets.Tiny;

    public static TheoryData<string, int, bool, string> Cases()
    {
        var data = new TheoryData<string, int, bool, string>();
        foreach (var shape in new[] { "chain", "tree" })
            foreach (var batch in new[] { 1, 5 })
                foreach (var sampled in new[] { false, true })
                    foreach (var limit in new[] { "context", "tokens" })
                        data.Add(shape, batch, sampled, limit);
        return data;
    }

    [Theory, MemberData(nameof(Cases))]
    public void SpeculativeRound_AtEveryRoomLeft_ShrinksItsDraftAndMatchesPlainDecoding(string shape, int batch, bool sampled, string limit)
    {
        using var model = TestModels.Peaked(Config, seed: 31);
        // Request i starts speculating with room for exactly i drafted tokens (its prompt ends i + 1 tokens before the
        // context's end, or its token budget leaves i after the pending one), then runs down to nothing.
        const int capacity = 40;
        var requests = Enumerable.Range(0, Budget + 1).Select(i => new RolloutRequest(i,
            Enumerable.Range(0, limit == "context" ? capacity - 1 - i : 4 + i).Select(t => (t * 11 + i * 3 + 1) % Config.VocabSize).ToArray(),
            new SamplingOptions { Temperature = sampled ? 1.0 : 0.0, MaxNewTokens = limit == "context" ? 1000 : i + 2, Seed = (ulong)(40 + i) })).ToList();
        var options = new RolloutEngineOptions { MaxSequenceLength = capacity, MaxRunningBatch = batch };
        var plain = new RolloutEngine(model, options).Generate(requests).Trajectories;

        var roomsSeen = new SortedSet<int>();
        var depthsSeen = new SortedSet<int>();
        using var drafter = HostileOracle(plain, requests, shape, roomsSeen, depthsSeen);
        var strategy = shape == "chain" ? SpecStrategy.ChainOf(Budget) : SpecStrategy.TreeOf(depth: Budget / 2, topK: 2, verifyBudget: Budget + 1);
        var result = new RolloutEngine(model, options with { Drafter = drafter, Strategy = strategy }).Generate(requests);

        for (int i = 0; i < requests.Count; i++)
        {
            Assert.Equal(plain[i].ResponseTokens, result.Trajectories[i].ResponseTokens);
            Assert.Equal(plain[i].Finish, result.Trajectories[i].Finish);
        }
        Assert.True(result.Metrics.SpeculativeSteps > 0, "no speculation round ran");
        Assert.All(plain, t => Assert.Equal(limit == "context" ? FinishReason.ContextFull : FinishReason.Length, t.Finish));
        // Every room left, from a full draft down to none, was met by some row (a row with no room at all, by its context,
        // has already ended with its first token).
        Assert.True(Enumerable.Range(limit == "context" ? 1 : 0, Budget).All(depthsSeen.Contains), $"room values seen: [{string.Join(", ", depthsSeen)}]");
        if (batch == 1 && limit == "context") Assert.True(Enumerable.Range(1, Budget).All(roomsSeen.Contains), $"node bounds seen: [{string.Join(", ", roomsSeen)}]");
    }

    /// <summary>
    /// Proposes Budget nodes for every row, ignoring MaxDraft and MaxNodes: the plain continuation (wrong at a few
    /// positions, so rounds accept different amounts) as a chain, or as a chain with a wrong sibling beside each node.
    /// </summary>
    private static FuncDrafter HostileOracle(IReadOnlyList<Trajectory> reference, IReadOnlyList<RolloutRequest> requests, string shape,
        SortedSet<int> roomsSeen, SortedSet<int> depthsSeen) =>
        new((context, row) =>
        {
            roomsSeen.Add(context.MaxNodes);
            depthsSeen.Add(context.MaxDraft[row]);
            var tokens = context.Tokens[row];
            int index = requests.Select((r, i) => (r, i)).First(x => x.r.PromptTokens.SequenceEqual(tokens.Take(context.PromptLengths[row]))).i;
            int generated = tokens.Count - context.PromptLengths[row];
            var truth = reference[index].ResponseTokens;
            int length = shape == "chain" ? Budget : Budget / 2;
            var chain = Enumerable.Range(0, length).Select(j =>
            {
                int t = generated + j < truth.Length ? truth[generated + j] : j;
                return (generated * 7 + j * 5 + index) % 6 == 0 ? (t + 1) % Config.VocabSize : t;
            }).ToList();
            if (shape == "chain") return DraftTree.Chain(chain);
            var parents = new List<int>();
            var drafted = new List<int>();
            for (int j = 0; j < length; j++)
            {
                parents.Add(j == 0 ? -1 : 2 * (j - 1));                  // the chain node of depth j + 1
                drafted.Add(chain[j]);
                parents.Add(j == 0 ? -1 : 2 * (j - 1));                  // its wrong sibling, a leaf
                drafted.Add((chain[j] + 3) % Config.VocabSize);
            }
            return new DraftTree(parents.ToArray(), drafted.ToArray());
        });
}
