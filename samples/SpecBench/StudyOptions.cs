// What a SpecBench study run asks for (StudyCommandLine fills it from the flags).
namespace SpecBench;

/// <summary>The drafter studies of issue 14, and the tail-round study of issue 13.</summary>
internal enum Study
{
    /// <summary>Online drafter training against a moving policy, against a ceiling (AdaptationBench).</summary>
    Adaptation,

    /// <summary>The TinyStories-656K drafter recipe and its learning curve (TinyStoriesDrafterBench).</summary>
    TinyStoriesDrafter,

    /// <summary>Accepted length by response position on the embedded target (PositionStudy).</summary>
    Positions,

    /// <summary>What a speculative round costs in the RL job's long tail, plain and speculative side by side (TailRoundStudy).</summary>
    TailRounds,
}

/// <summary>Settings of one study run.</summary>
/// <param name="Study">Which study.</param>
/// <param name="Adaptation">The adaptation benchmark's settings (read by <see cref="Study.Adaptation"/>).</param>
/// <param name="TinyStories">The TinyStories drafter recipe (read by <see cref="Study.Adaptation"/> and <see cref="Study.TinyStoriesDrafter"/>).</param>
/// <param name="SkipTinyStories">With <see cref="Study.Adaptation"/>: leave tinystories_drafter out.</param>
/// <param name="EvalPrompts">Held-out requests scored by <see cref="Study.Positions"/>.</param>
/// <param name="PositionsRowLength">Pairs per row of the whole-sequence drafter variants of <see cref="Study.Positions"/>.</param>
internal sealed record StudyOptions(Study Study, AdaptationSettings Adaptation, TinyStoriesRecipe TinyStories, bool SkipTinyStories, int EvalPrompts, int PositionsRowLength);
