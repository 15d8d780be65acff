// A user-supplied .tiktoken file (no data packages, nothing downloaded) through the library's
// TiktokenTokenizer. The file is also parsed here, to report bad lines by number and to offer
// GetToken/GetId, with tokens spelled in GPT-2's byte alphabet as HF does for tiktoken-derived vocabularies.
using System.Globalization;
using Microsoft.ML.Tokenizers;

namespace TltTrainer.Tokenization;

internal static class TiktokenLoader
{
    internal static ITextTokenizer Load(string path, TokenizerFlavor flavor, TokenizerLoadOptions options)
    {
        var ids = ReadRanks(path);
        var specials = options.SpecialTokens ?? new Dictionary<string, int>();
        foreach (var (content, id) in specials)
        {
            ids[content] = id;
        }

        var preTokenizer = new SplittingPreTokenizer(PreTokenizerPatterns.Create(flavor), SpecialTokenMatcher.Create(specials));
        TiktokenTokenizer tiktoken;
        try
        {
            tiktoken = TiktokenTokenizer.Create(path, preTokenizer, normalizer: null, specialTokens: specials.Count == 0 ? null : specials);
        }
        catch (Exception ex) when (ex is not IOException and not UnauthorizedAccessException)
        {
            throw new InvalidDataException($"'{path}' could not be read as a tiktoken vocabulary: {ex.Message}", ex);
        }

        return new LibraryTextTokenizer(
            tiktoken,
            path,
            (text, prefix) => tiktoken.EncodeToIds(prefix && text.Length > 0 && !char.IsWhiteSpace(text[0]) ? " " + text : text),
            tiktoken.Decode,
            configuredPrefix: false,
            ids,
            specials.Values.ToHashSet(),
            new SpecialTokenNames(options.BosToken, options.EosToken, options.PadToken),
            options.EncodeDefaults);
    }

    private static Dictionary<string, int> ReadRanks(string path)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            string[] parts = line.Split(' ');
            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(parts[0]);
            }
            catch (FormatException)
            {
                throw new InvalidDataException($"'{path}' line {lineNumber}: '{parts[0]}' is not base64.");
            }

            if (parts.Length != 2 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int rank))
            {
                throw new InvalidDataException($"'{path}' line {lineNumber}: expected \"base64 rank\".");
            }

            ids[ByteLevelAlphabet.Spell(bytes)] = rank;
        }

        return ids.Count > 0 ? ids : throw new InvalidDataException($"'{path}' holds no tokens.");
    }
}
