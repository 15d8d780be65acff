// Runs the study SpecBench's flags select (StudyCommandLine) and writes its report:
//   --adaptation           AdaptationBench, plus the TinyStories drafter recipe as tinystories_drafter (unless --skip-tinystories);
//   --tinystories-drafter  TinyStoriesDrafterBench: the TinyStories-656K drafter recipe and its learning curve;
//   --positions            PositionStudy: accepted length by response position on the embedded target;
//   --tail-rounds          TailRoundStudy: what a speculative round costs in the RL job's long tail.
using System.Text.Json;
using System.Text.Json.Nodes;
using TltTrainer.IO;

namespace SpecBench;

internal static class Studies
{
    /// <summary>Runs <paramref name="options"/>' study and writes its report to <paramref name="jsonPath"/> if given.</summary>
    /// <exception cref="InvalidOperationException">--tinystories-drafter without the TinyStories-656K checkpoint.</exception>
    public static void Run(StudyOptions options, string? sharedDirectory, string? jsonPath)
    {
        var report = new JsonObject();
        switch (options.Study)
        {
            case Study.Adaptation:
                report["adaptation"] = AdaptationBench.Run(options.Adaptation);
                if (options.SkipTinyStories || options.Adaptation.ShiftOnly) break;
                if (RealModelBench.FindModel(sharedDirectory) is { } model) report["tinystories_drafter"] = TinyStoriesDrafterBench.Run(model, [options.TinyStories]);
                else report["tinystories_drafter_skipped"] = $"{RealModelBench.ModelName} not found (pass --shared DIR)";
                break;
            case Study.TinyStoriesDrafter:
                string path = RealModelBench.FindModel(sharedDirectory) ?? throw new InvalidOperationException($"{RealModelBench.ModelName} not found (pass --shared DIR).");
                report["tinystories_drafter"] = TinyStoriesDrafterBench.Run(path, [options.TinyStories]);
                break;
            case Study.Positions:
                report["positions"] = PositionStudy.Run(options.EvalPrompts, options.PositionsRowLength);
                break;
            case Study.TailRounds:
                report["tail_rounds"] = TailRoundStudy.Run();
                break;
        }
        if (jsonPath is null) return;
        AtomicFile.WriteAllText(jsonPath, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {jsonPath}");
    }
}
