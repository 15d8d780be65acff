// The subset of HF normalizers that BPE language-model tokenizers use, as one ordered list of steps.
// Prepend steps can be switched off per call: that is how EncodeOptions.AddPrefixSpace = false
// encodes TinyStories text without the "▁" its tokenizer.json prepends.
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace TltTrainer.Tokenization;

internal enum NormalizerStepKind
{
    UnicodeForm,
    Lowercase,
    Prepend,
    Replace,
}

/// <summary>One normalization step. <c>Text</c> is the prepended string or the replacement; <c>Pattern</c> the Replace regex.</summary>
internal sealed record NormalizerStep(NormalizerStepKind Kind, string Text = "", Regex? Pattern = null, NormalizationForm Form = NormalizationForm.FormC);

internal sealed class TextNormalizer : Normalizer
{
    private readonly IReadOnlyList<NormalizerStep> _steps;

    internal TextNormalizer(IReadOnlyList<NormalizerStep> steps)
    {
        _steps = steps;
        HasPrepend = steps.Any(s => s.Kind == NormalizerStepKind.Prepend);
    }

    /// <summary>True when the steps put a marker in front of the text (the tokenizer's default prefix behaviour).</summary>
    internal bool HasPrepend { get; }

    public override string Normalize(string original) => Normalize(original, includePrepend: true);

    public override string Normalize(ReadOnlySpan<char> original) => Normalize(original.ToString(), includePrepend: true);

    internal string Normalize(string text, bool includePrepend)
    {
        foreach (var step in _steps)
        {
            text = step.Kind switch
            {
                NormalizerStepKind.UnicodeForm => text.Normalize(step.Form),
                NormalizerStepKind.Lowercase => text.ToLowerInvariant(),
                // HF's Prepend leaves empty text empty.
                NormalizerStepKind.Prepend => includePrepend && text.Length > 0 ? step.Text + text : text,
                NormalizerStepKind.Replace => step.Pattern!.Replace(text, step.Text),
                _ => throw new InvalidOperationException($"Unhandled normalizer step {step.Kind}."),
            };
        }

        return text;
    }
}
