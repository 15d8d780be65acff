// SpecBench --adaptation: does online drafter training keep up with a moving policy, measured against a
// ceiling (issue 14). For each scenario it starts from the embedded target and its warm drafter, moves the
// policy with real RL steps of the Quickstart job (TLT on, the job's settings; the scenario may raise the
// learning rate for a larger shift), which also measure the idle worker-seconds the job offers per RL step
// and the drafter steps they buy, then scores (AcceptanceMeasure: counts, not timings)
//   frozen:            the warm drafter as it was;
//   online:            the warm drafter trained by OnlineDrafterTraining on nothing but the moved policy's
//                      rollout hidden states, after the idle budget of 1, 2 and 3 RL steps;
//   ceiling:           the warm drafter trained offline to convergence on 512 fresh generations of the moved policy;
//   same-data ceiling: the same, on exactly the 3 rollouts the online phase got (what that data allows at most).
// recovery = (online − frozen) / (ceiling − frozen); recovery_same_data divides by the same-data ceiling's gap.
// Only the budget comes from timing; --budget-steps fixes it for comparisons between recipes.
using System.Text.Json.Nodes;
using TltTrainer.Drafting;
using TltTrainer.Models;
using TltTrainer.Speculative;
using TltTrainer.Tasks;
using TltTrainer.Telemetry;
using TltTrainer.Tlt;
using TorchSharp;

namespace SpecBench;

/// <summary>How the policy is moved before the drafters are scored.</summary>
/// <param name="Name">Label in the report.</param>
/// <param name="ShiftSteps">RL steps of the Quickstart job.</param>
/// <param name="ShiftLearningRate">Their learning rate (the job's is 3e-5).</param>
internal sealed record AdaptationScenario(string Name, int ShiftSteps, double ShiftLearningRate)
{
    /// <summary>The shifts SpecBench knows: the Quickstart job as it is, and the same job at a learning rate that moves the policy far.</summary>
    public static IReadOnlyList<AdaptationScenario> Known { get; } =
    [
        new("quickstart", 8, AdaptationSettings.QuickstartLearningRate),
        new("large", 4, 5e-4),
    ];
}

/// <summary>Settings of the adaptation benchmark.</summary>
/// <param name="Scenarios">Shifts to measure.</param>
/// <param name="EvalPrompts">Held-out requests the accepted length is measured on.</param>
/// <param name="BudgetSteps">Online drafter steps per RL step; null = measured during the shift.</param>
/// <param name="CeilingSteps">Offline steps of the fresh-data ceiling (0 = skip).</param>
/// <param name="SameDataCeilingSteps">Offline steps of the same-data ceiling (0 = skip).</param>
/// <param name="Online">The online recipe.</param>
/// <param name="Buffer">The hidden-state buffer.</param>
/// <param name="Reuse">Reuse the moved policy cached by an earlier run of the same shift (iterating on the online recipe).</param>
/// <param name="ShiftOnly">Only move the policy and cache it (the timed part, to run alone on a quiet machine).</param>
internal sealed record AdaptationSettings(IReadOnlyList<AdaptationScenario> Scenarios, int EvalPrompts, int? BudgetSteps, int CeilingSteps,
    int SameDataCeilingSteps, OnlineDrafterOptions Online, HiddenStateBufferOptions Buffer, bool Reuse, bool ShiftOnly = false)
{
    /// <summary>The Quickstart job's RL settings (samples/Quickstart): 16 prompts × 4, temperature 1, 560 new tokens, 2 workers.</summary>
    public const int PromptsPerStep = 16, GroupSize = 4, MaxNewTokens = 560, Workers = 2;

    /// <summary>The Quickstart job's learning rate.</summary>
    public const double QuickstartLearningRate = 3e-5;

    /// <summary>RL steps of online budget measured.</summary>
    public const int OnlineSteps = 3;

    /// <summary>Defaults of the command line.</summary>
    public const int DefaultEvalPrompts = 128, DefaultCeilingSteps = 600, DefaultSameDataCeilingSteps = 400;

    /// <summary>The buffer of the Quickstart job (TltRollout's, 64 MiB).</summary>
    public static HiddenStateBufferOptions DefaultBuffer { get; } = new TltRolloutOptions().Buffer;
}

internal static class AdaptationBench
{
    public static JsonObject Run(AdaptationSettings settings)
    {
        using var target = EmbeddedTarget.LoadOrTrain();
        using var warm = EmbeddedDrafter.LoadOrTrain(target);
        var eval = AcceptanceMeasure.EvalRequests(settings.EvalPrompts);
        var original = settings.ShiftOnly ? null : AcceptanceMeasure.Measure(target.Model, warm, eval);
        if (original is not null) Console.WriteLine($"  warm drafter on the original policy: {original}");
        var scenarios = new JsonArray();
        foreach (var scenario in settings.Scenarios) scenarios.Add(RunScenario(target.Model, warm, eval, scenario, settings));
        return new JsonObject
        {
            ["eval_requests"] = settings.EvalPrompts, ["chain_depth"] = AcceptanceMeasure.ChainDepth, ["online_recipe"] = settings.Online.ToString(),
            ["buffer"] = settings.Buffer.ToString(), ["original_policy_warm_drafter"] = original?.ToJson(), ["scenarios"] = scenarios,
        };
    }

    private static JsonObject RunScenario(CausalLM original, EagleDraftModel warm, IReadOnlyList<TltTrainer.Rollout.RolloutRequest> eval, AdaptationScenario scenario,
        AdaptationSettings settings)
    {
        Console.WriteLine($"  scenario {scenario.Name}: {scenario.ShiftSteps} RL steps at learning rate {scenario.ShiftLearningRate:G3}");
        using var policy = Copy(original);
        var shift = ShiftOrReuse(policy, warm, scenario, settings);
        var budget = IdleBudget.From(shift, settings.BudgetSteps);
        Console.WriteLine($"    idle budget: {budget}");
        if (settings.ShiftOnly) return new JsonObject { ["name"] = scenario.Name, ["idle_budget"] = budget.ToJson(shift) };
        var perfect = AcceptanceMeasure.PerfectDrafter(policy, eval);
        var frozen = AcceptanceMeasure.Measure(policy, warm, eval);
        Console.WriteLine($"    perfect argmax drafter {perfect}; frozen warm drafter {frozen}");
        var online = AdaptationPhases.Online(policy, warm, eval, settings, budget.StepsPerRlStep, AdaptationSettings.OnlineSteps);
        var sameData = settings.SameDataCeilingSteps == 0 ? new List<CurvePoint>() : AdaptationPhases.Ceiling(policy, warm, eval, settings.SameDataCeilingSteps,
            Enumerable.Range(1, AdaptationSettings.OnlineSteps).SelectMany(AdaptationPhases.StepRequests).ToList());
        var fresh = settings.CeilingSteps == 0 ? new List<CurvePoint>() : AdaptationPhases.Ceiling(policy, warm, eval, settings.CeilingSteps, AdaptationPhases.FreshRequests(512));
        double ceiling = fresh.Count == 0 ? double.NaN : fresh.Max(c => c.Acceptance.Mean);
        double sameDataCeiling = sameData.Count == 0 ? double.NaN : sameData.Max(c => c.Acceptance.Mean);
        double Recovery(double a, double top) => Math.Round((a - frozen.Mean) / (top - frozen.Mean), 3);
        var recovery = online.Select(a => Recovery(a.Mean, ceiling)).ToList();
        var recoverySameData = online.Select(a => Recovery(a.Mean, sameDataCeiling)).ToList();
        Console.WriteLine($"    ceiling {ceiling:F3}, same-data ceiling {sameDataCeiling:F3}; recovery after 1, 2, 3 RL steps' budget {string.Join(", ", recovery)} "
            + $"(of the same-data ceiling: {string.Join(", ", recoverySameData)})");
        return new JsonObject
        {
            ["name"] = scenario.Name, ["shift_steps"] = scenario.ShiftSteps, ["shift_learning_rate"] = scenario.ShiftLearningRate,
            ["idle_budget"] = budget.ToJson(shift),
            ["recovery"] = new JsonArray(recovery.Select(r => (JsonNode)r).ToArray()),
            ["recovery_same_data"] = new JsonArray(recoverySameData.Select(r => (JsonNode)r).ToArray()),
            ["accept_len"] = new JsonObject
            {
                ["frozen"] = Math.Round(frozen.Mean, 3), ["ceiling"] = Math.Round(ceiling, 3), ["ceiling_same_data"] = Math.Round(sameDataCeiling, 3),
                ["online"] = new JsonArray(online.Select((a, i) => (JsonNode)new JsonObject
                {
                    ["rl_steps_of_budget"] = i + 1, ["train_steps"] = budget.StepsPerRlStep * (i + 1), ["accept_len"] = Math.Round(a.Mean, 3),
                }).ToArray()),
            },
            ["by_position"] = new JsonObject
            {
                ["perfect_argmax_drafter"] = perfect.ToJson(), ["frozen"] = frozen.ToJson(), ["online_after_3_steps"] = online[^1].ToJson(),
                ["ceiling"] = fresh.Count == 0 ? null : fresh.MaxBy(c => c.Acceptance.Mean)!.Acceptance.ToJson(),
            },
            ["ceiling_curve"] = Curve(fresh), ["ceiling_same_data_curve"] = Curve(sameData),
        };
    }

    private static JsonArray Curve(List<CurvePoint> curve) => new(curve.Select(c => (JsonNode)new JsonObject
    {
        ["steps"] = c.Steps, ["accept_len"] = Math.Round(c.Acceptance.Mean, 3),
    }).ToArray());

    /// <summary>The shift, or with Reuse the moved policy and step metrics an earlier run cached (RL with TLT on gives the policy TLT off gives).</summary>
    private static List<StepMetrics> ShiftOrReuse(CausalLM policy, EagleDraftModel warm, AdaptationScenario scenario, AdaptationSettings settings)
    {
        string stem = Path.Combine(EmbeddedTarget.DefaultCacheDirectory(), $"adaptation-shift-{scenario.ShiftSteps}-{scenario.ShiftLearningRate:G3}");
        if (settings.Reuse && File.Exists(stem + ".safetensors") && File.Exists(stem + ".jsonl"))
        {
            var weights = TltTrainer.Models.SafeTensors.SafeTensorsReader.Load(stem + ".safetensors");
            using (torch.no_grad()) foreach (var (name, p) in policy.named_parameters()) p.copy_(weights[name]);
            foreach (var w in weights.Values) w.Dispose();
            Console.WriteLine($"    reusing the moved policy of {stem}.safetensors");
            return File.ReadAllLines(stem + ".jsonl").Select(l => System.Text.Json.JsonSerializer.Deserialize<StepMetrics>(l)!).ToList();
        }
        var steps = AdaptationPhases.Shift(policy, warm, scenario, settings);
        using (var scope = torch.NewDisposeScope())
            TltTrainer.Models.SafeTensors.SafeTensorsWriter.Save(stem + ".safetensors", policy.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone()));
        File.WriteAllLines(stem + ".jsonl", steps.Select(m => System.Text.Json.JsonSerializer.Serialize(m)));
        return steps;
    }

    private static CausalLM Copy(CausalLM source)
    {
        var copy = new CausalLM(source.Config);
        using var noGrad = torch.no_grad();
        var weights = source.state_dict();
        foreach (var (name, p) in copy.named_parameters()) p.copy_(weights[name]);
        return copy;
    }
}
