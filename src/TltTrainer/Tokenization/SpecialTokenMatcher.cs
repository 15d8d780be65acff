// Finds special-token strings in text so they become single ids before any normalization or BPE.
// Leftmost match wins, and among tokens starting at the same place the longest wins
// ("<|im_start|>" before "<|im"), which is what HF's added-token trie does.
namespace TltTrainer.Tokenization;

/// <summary>A run of text, or one special token when <see cref="SpecialId"/> is set.</summary>
internal readonly record struct TextPiece(int Start, int Length, int? SpecialId);

internal sealed class SpecialTokenMatcher
{
    private readonly Dictionary<char, (string Token, int Id)[]> _byFirstChar;

    private SpecialTokenMatcher(Dictionary<char, (string Token, int Id)[]> byFirstChar) => _byFirstChar = byFirstChar;

    /// <summary>Returns null when there is nothing to match, so callers can skip the scan.</summary>
    internal static SpecialTokenMatcher? Create(IEnumerable<KeyValuePair<string, int>> tokens)
    {
        var byFirstChar = tokens
            .Where(t => t.Key.Length > 0)
            .GroupBy(t => t.Key[0])
            .ToDictionary(
                g => g.Key,
                g => g.OrderByDescending(t => t.Key.Length).Select(t => (t.Key, t.Value)).ToArray());
        return byFirstChar.Count == 0 ? null : new SpecialTokenMatcher(byFirstChar);
    }

    /// <summary>Splits <paramref name="text"/>[start, start+length) into text runs and special tokens.</summary>
    internal IEnumerable<TextPiece> Split(string text, int start, int length)
    {
        int end = start + length;
        int runStart = start;
        int i = start;
        while (i < end)
        {
            if (TryMatchAt(text, i, end, out int tokenLength, out int id))
            {
                if (i > runStart)
                {
                    yield return new TextPiece(runStart, i - runStart, null);
                }

                yield return new TextPiece(i, tokenLength, id);
                i += tokenLength;
                runStart = i;
            }
            else
            {
                i++;
            }
        }

        if (end > runStart)
        {
            yield return new TextPiece(runStart, end - runStart, null);
        }
    }

    private bool TryMatchAt(string text, int index, int end, out int length, out int id)
    {
        if (_byFirstChar.TryGetValue(text[index], out var candidates))
        {
            foreach (var (token, tokenId) in candidates)
            {
                if (token.Length <= end - index && string.CompareOrdinal(text, index, token, 0, token.Length) == 0)
                {
                    length = token.Length;
                    id = tokenId;
                    return true;
                }
            }
        }

        length = 0;
        id = 0;
        return false;
    }
}
