// GPT-2's byte-to-character table: byte-level BPE vocabularies spell every byte as a printable character.
// Printable Latin-1 bytes stand for themselves; the other 68 (controls, space, 0x7F-0xA0, 0xAD) take the
// characters from U+0100 upwards in byte order, so a space is 'Ġ' (U+0120) and a newline 'Ċ' (U+010A).
using System.Text;

namespace TltTrainer.Tokenization;

internal static class ByteLevelAlphabet
{
    private static readonly char[] s_byteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> s_charToByte =
        Enumerable.Range(0, 256).ToDictionary(b => s_byteToChar[b], b => (byte)b);

    internal static bool TryGetByte(char c, out byte value) => s_charToByte.TryGetValue(c, out value);

    /// <summary>Spells the UTF-8 bytes of <paramref name="text"/> in the byte-level alphabet.</summary>
    internal static string Encode(ReadOnlySpan<char> text)
    {
        byte[] utf8 = new byte[Encoding.UTF8.GetByteCount(text)];
        Encoding.UTF8.GetBytes(text, utf8);
        return Spell(utf8);
    }

    /// <summary>Spells raw bytes in the byte-level alphabet (how HF stores tiktoken-derived vocabularies).</summary>
    internal static string Spell(byte[] bytes) => string.Create(bytes.Length, bytes, static (chars, source) =>
    {
        for (int i = 0; i < source.Length; i++)
        {
            chars[i] = s_byteToChar[source[i]];
        }
    });

    private static char[] BuildByteToChar()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)next++;
        }

        return table;
    }
}
