// Pre-tokenizer handed to Microsoft.ML.Tokenizers and used by the adapters themselves.
// It cuts out special tokens, then splits the rest with an optional regex in HF's "Isolated" mode:
// matches AND the gaps between them are words (the library's RegexPreTokenizer drops the gaps).
// With no regex each run between special tokens is one word, i.e. HF's "no pre-tokenizer"
// (the library's default for a null pre-tokenizer would instead split on word boundaries).
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace TltTrainer.Tokenization;

internal sealed class SplittingPreTokenizer : PreTokenizer
{
    private readonly Regex? _regex;
    private readonly SpecialTokenMatcher? _specials;

    internal SplittingPreTokenizer(Regex? regex, SpecialTokenMatcher? specials)
    {
        _regex = regex;
        _specials = specials;
    }

    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_specials is null)
        {
            return SplitWords(text, 0, text.Length);
        }

        return _specials.Split(text, 0, text.Length).SelectMany(piece => piece.SpecialId is null
            ? SplitWords(text, piece.Start, piece.Length)
            : [(piece.Start, piece.Length)]);
    }

    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => PreTokenize(text.ToString());

    /// <summary>Words of text[start, start+length), ignoring special tokens. Offsets are into <paramref name="text"/>.</summary>
    internal IEnumerable<(int Offset, int Length)> SplitWords(string text, int start, int length)
    {
        if (length == 0)
        {
            yield break;
        }

        if (_regex is null)
        {
            yield return (start, length);
            yield break;
        }

        int position = start;
        // Match(text, start, length) treats the slice as the whole input, so look-arounds stop at its ends.
        for (Match m = _regex.Match(text, start, length); m.Success; m = m.NextMatch())
        {
            if (m.Length == 0)
            {
                continue;
            }

            if (m.Index > position)
            {
                yield return (position, m.Index - position);
            }

            yield return (m.Index, m.Length);
            position = m.Index + m.Length;
        }

        if (position < start + length)
        {
            yield return (position, start + length - position);
        }
    }
}
