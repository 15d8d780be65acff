// Settings of one TextGen run (TextGenCommandLine fills them from the arguments).
namespace TextGen;

/// <summary>Settings of one TextGen run.</summary>
/// <param name="ModelDirectory">A Llama/Qwen2 HuggingFace folder, or null for the TinyStories-656K checkpoint in
/// ../shared/models (else the tiny preset with random weights).</param>
internal sealed record TextGenOptions(string? ModelDirectory);
