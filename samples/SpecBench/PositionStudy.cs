// SpecBench --positions: accepted length by response position on the embedded target (issue 14 item 3), for
// the cached warm drafter and the same recipe trained on whole sequences (rows long enough for the longest
// generation instead of the last 256 pairs of each, so the drafter also sees contexts past 256), beside the
// perfect argmax drafter's bound, which tells text that gets harder deep into a response from a drafter that
// gets worse there. A third variant also trains on more long chains (term counts ~ n^-1 instead of n^-2).
using System.Text.Json.Nodes;
using TltTrainer.Tasks;

namespace SpecBench;

internal static class PositionStudy
{
    public static JsonObject Run(int evalPrompts, int rowLength)
    {
        using var target = EmbeddedTarget.LoadOrTrain();
        var eval = AcceptanceMeasure.EvalRequests(evalPrompts);
        var perfect = AcceptanceMeasure.PerfectDrafter(target.Model, eval);
        Console.WriteLine($"  perfect argmax drafter: {perfect}");
        using var old = EmbeddedDrafter.LoadOrTrain(target, new EmbeddedDrafterOptions { RowLength = 256, TailExponent = 2.0 }, new Progress<string>(m => Console.WriteLine($"    {m}")));
        var rows256 = AcceptanceMeasure.Measure(target.Model, old, eval);
        Console.WriteLine($"  warm drafter (rows of 256 pairs): {rows256}");
        using var whole = EmbeddedDrafter.LoadOrTrain(target, new EmbeddedDrafterOptions { RowLength = rowLength, TailExponent = 2.0 }, new Progress<string>(m => Console.WriteLine($"    {m}")));
        var rowsLong = AcceptanceMeasure.Measure(target.Model, whole, eval);
        Console.WriteLine($"  warm drafter (rows of {rowLength} pairs): {rowsLong}");
        using var flat = EmbeddedDrafter.LoadOrTrain(target, new EmbeddedDrafterOptions { RowLength = rowLength, TailExponent = 1.0 },
            new Progress<string>(m => Console.WriteLine($"    {m}")));
        var rowsFlat = AcceptanceMeasure.Measure(target.Model, flat, eval);
        Console.WriteLine($"  warm drafter (rows of {rowLength} pairs, training prompts with term counts ~ n^-1 instead of n^-2): {rowsFlat}");
        return new JsonObject
        {
            ["eval_requests"] = evalPrompts, ["perfect_argmax_drafter"] = perfect.ToJson(), ["warm_rows_256"] = rows256.ToJson(), [$"warm_rows_{rowLength}"] = rowsLong.ToJson(),
            [$"warm_rows_{rowLength}_tail_1"] = rowsFlat.ToJson(),
        };
    }
}
