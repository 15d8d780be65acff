// Ids back to text for the BPE adapter. Everything is gathered as UTF-8 bytes and decoded once at the
// end, so byte-fallback tokens (<0x0A>) and byte-level pieces of one character join up whatever
// tokens they were split across; incomplete UTF-8 becomes U+FFFD rather than an exception.
using System.Globalization;
using System.Text;

namespace TltTrainer.Tokenization;

internal sealed class TokenDecoder
{
    private readonly TokenDecoderSpec _spec;
    private readonly string?[] _tokens;
    private readonly IReadOnlyDictionary<int, AddedToken> _added;

    internal TokenDecoder(TokenDecoderSpec spec, string?[] tokens, IReadOnlyDictionary<int, AddedToken> added)
    {
        _spec = spec;
        _tokens = tokens;
        _added = added;
    }

    internal string Decode(IEnumerable<int> ids, bool skipSpecialTokens, bool stripPrefix)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (_added.TryGetValue(id, out var added))
            {
                if (!(skipSpecialTokens && added.Special))
                {
                    bytes.AddRange(Encoding.UTF8.GetBytes(added.Content));
                }

                continue;
            }

            string? token = (uint)id < (uint)_tokens.Length ? _tokens[id] : null;
            if (token is not null)
            {
                AppendToken(token, bytes);
            }
        }

        string text = Encoding.UTF8.GetString(bytes.ToArray());
        if (stripPrefix)
        {
            int strip = 0;
            while (strip < _spec.StripLeadingSpaces && strip < text.Length && text[strip] == ' ')
            {
                strip++;
            }

            text = text[strip..];
        }

        return text;
    }

    private void AppendToken(string token, List<byte> bytes)
    {
        if (_spec.ByteLevel)
        {
            foreach (char c in token)
            {
                if (ByteLevelAlphabet.TryGetByte(c, out byte b))
                {
                    bytes.Add(b);
                }
                else
                {
                    bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
                }
            }

            return;
        }

        if (_spec.ByteFallback && TryParseByteToken(token, out byte value))
        {
            bytes.Add(value);
            return;
        }

        foreach (var (from, to) in _spec.Replacements)
        {
            token = token.Replace(from, to, StringComparison.Ordinal);
        }

        bytes.AddRange(Encoding.UTF8.GetBytes(token));
    }

    /// <summary>Recognises byte-fallback tokens, written <c>&lt;0xAB&gt;</c> with two hex digits.</summary>
    internal static bool TryParseByteToken(string token, out byte value)
    {
        value = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>The byte-fallback token string of one byte, as HF writes it.</summary>
    internal static string ByteToken(byte value) => string.Create(CultureInfo.InvariantCulture, $"<0x{value:X2}>");
}
