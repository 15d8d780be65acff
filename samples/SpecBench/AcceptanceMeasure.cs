// How the adaptation benchmark scores a drafter on the embedded task: the mean accepted length of a fixed
// EAGLE chain arm (depth 6, coupled: drafts the drafter's argmax), speculating at every batch size, on
// held-out requests at temperature 1, split by response position (0-64, 64-256, 256+). Coupled verification
// emits the plain tokens whatever the drafter, so every drafter is scored on the same text, and the result
// is a count that the machine's load cannot change. The perfect-drafter bound per position tells text that
// gets harder deep into a response from a drafter that gets worse there.
using System.Text.Json.Nodes;
using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tasks;
using TltTrainer.Tlt;
using TorchSharp;

namespace SpecBench;

/// <summary>Mean accepted length and its split by response position.</summary>
internal sealed record Acceptance(double Mean, IReadOnlyList<PositionBucket> ByPosition)
{
    /// <summary>JSON: accept_len and by_position (bucket name → rounds, accept_len).</summary>
    public JsonObject ToJson() => new() { ["accept_len"] = Math.Round(Mean, 3), ["by_position"] = AcceptanceMeasure.ByPosition(ByPosition) };

    /// <summary>One line for the console.</summary>
    public override string ToString() => $"{Mean:F3} ({string.Join(", ", ByPosition.Select(b => $"{b.Name}: {b.TokensPerRound:F2} in {b.Rounds}"))})";
}

internal static class AcceptanceMeasure
{
    /// <summary>Depth of the EAGLE chain arm (TltRollout's default).</summary>
    public const int ChainDepth = 6;

    /// <summary>Response positions where the by-position report splits (issue 14 item 3).</summary>
    public static readonly int[] PositionBounds = { 64, 256 };

    public static readonly HashSet<int> Stop = new() { ChainArithmeticTextTokenizer.Instance.EosId!.Value };

    /// <summary>Held-out requests: the Quickstart job's task distribution under another seed, one response each at temperature 1.</summary>
    public static List<RolloutRequest> EvalRequests(int count)
    {
        var tokenizer = ChainArithmeticTextTokenizer.Instance;
        return new ChainArithmeticTask(new ChainArithmeticOptions { Seed = 0xADA }).Sample(count).Select((e, i) => new RolloutRequest(i, tokenizer.Encode(e.Prompt),
            new SamplingOptions { Temperature = 1.0, MaxNewTokens = AdaptationSettings.MaxNewTokens, StopTokens = Stop, Seed = 0xADA0 + (ulong)i })).ToList();
    }

    /// <summary>The accepted length of <paramref name="drafter"/> on <paramref name="policy"/> (see the file header).</summary>
    public static Acceptance Measure(CausalLM policy, EagleDraftModel drafter, IReadOnlyList<RolloutRequest> requests)
    {
        using var runtime = new EagleDrafter(policy, drafter);
        using var measured = new AcceptanceByPosition(runtime, PositionBounds);
        var engine = new RolloutEngine(policy, new RolloutEngineOptions
        {
            MaxRunningBatch = 64, MaxSequenceLength = 1024, Drafter = measured, Strategy = SpecStrategy.ChainOf(ChainDepth, sample: false),
        });
        var mean = engine.Generate(requests).Metrics.MeanAcceptLength;
        return new Acceptance(mean, measured.Buckets());
    }

    /// <summary>
    /// The accepted length a perfect drafter reaches, by response position: one that drafts the target's own argmax at every step
    /// (under coupled verification a draft is accepted while it equals the token plain decoding draws, and the argmax is the best
    /// guess of it). Averaged over every position of the plainly decoded responses, from one target forward per response.
    /// </summary>
    public static Acceptance PerfectDrafter(CausalLM policy, IReadOnlyList<RolloutRequest> requests)
    {
        var trajectories = new RolloutEngine(policy, new RolloutEngineOptions { MaxRunningBatch = 64, MaxSequenceLength = 1024 }).Generate(requests).Trajectories;
        var sums = new double[PositionBounds.Length + 1];
        var counts = new long[PositionBounds.Length + 1];
        using var noGrad = torch.no_grad();
        foreach (var t in trajectories)
        {
            using var scope = torch.NewDisposeScope();
            var tokens = t.PromptTokens.Concat(t.ResponseTokens).Select(x => (long)x).ToArray();
            var argmax = policy.Forward(torch.tensor(tokens).view(1, -1)).Logits!.argmax(-1).view(-1).data<long>().ToArray();
            int prompt = t.PromptTokens.Length, n = t.ResponseTokens.Length;
            bool Match(int j) => t.ResponseTokens[j] == argmax[prompt + j - 1];   // response token j is the target's argmax
            for (int q = 0; q + 1 < n; q++)
            {
                int accepted = 0;
                while (accepted < ChainDepth && q + 1 + accepted < n && Match(q + 1 + accepted)) accepted++;
                int b = PositionBounds.Count(bound => q >= bound);
                sums[b] += accepted + 1;
                counts[b]++;
            }
        }
        var buckets = Enumerable.Range(0, sums.Length).Select(b => new PositionBucket(b == 0 ? 0 : PositionBounds[b - 1], b < PositionBounds.Length ? PositionBounds[b] : null,
            counts[b], counts[b] == 0 ? double.NaN : sums[b] / counts[b])).ToList();
        return new Acceptance(sums.Sum() / Math.Max(1, counts.Sum()), buckets);
    }

    /// <summary>The by-position split as JSON: bucket name → {rounds, accept_len}.</summary>
    public static JsonObject ByPosition(IReadOnlyList<PositionBucket> buckets) => new(buckets.Select(b => KeyValuePair.Create(b.Name, (JsonNode?)new JsonObject
    {
        ["rounds"] = b.Rounds, ["accept_len"] = double.IsNaN(b.TokensPerRound) ? null : Math.Round(b.TokensPerRound, 3),
    })));
}
