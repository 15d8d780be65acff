// tokenizer.model (SentencePiece BPE) through the library's LlamaTokenizer. The prefix switch is honoured
// by escaping spaces ourselves and skipping the library's normalizer when the caller's choice differs
// from the model's add_dummy_prefix (so other normalizer rules, e.g. collapsing spaces, are then skipped too).
using Microsoft.ML.Tokenizers;

namespace TltTrainer.Tokenization;

internal static class SentencePieceLoader
{
    private const char Space = '\u2581';

    internal static ITextTokenizer Load(string path, TokenizerLoadOptions options, TokenizerConfig config)
    {
        var sp = Create(path, specialTokens: null);
        var added = TokenizerLoader.MergeAddedTokens([], config.AddedTokens, options)
            .Where(t => !sp.Vocabulary.ContainsKey(t.Content))
            .ToList();
        if (added.Count > 0)
        {
            sp = Create(path, added.ToDictionary(t => t.Content, t => t.Id));
        }

        var ids = new Dictionary<string, int>(sp.Vocabulary, StringComparer.Ordinal);
        foreach (var token in added)
        {
            ids[token.Content] = token.Id;
        }

        var specialIds = added.Where(t => t.Special).Select(t => t.Id)
            .Concat(new[] { sp.BeginningOfSentenceId, sp.EndOfSentenceId, sp.UnknownId }.Where(id => id >= 0))
            .ToHashSet();
        var names = new SpecialTokenNames(
            config.Names.Bos ?? sp.BeginningOfSentenceToken, config.Names.Eos ?? sp.EndOfSentenceToken, config.Names.Pad);

        return new LibraryTextTokenizer(
            sp,
            path,
            (text, prefix) => prefix == sp.AddDummyPrefix
                ? sp.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false)
                : sp.EncodeToIds(
                    (prefix ? Space.ToString() : "") + (sp.EscapeWhiteSpaces ? text.Replace(' ', Space) : text),
                    addBeginningOfSentence: false, addEndOfSentence: false, considerPreTokenization: true, considerNormalization: false),
            ids => sp.Decode(ids, considerSpecialTokens: true),
            sp.AddDummyPrefix,
            ids,
            specialIds,
            names.OverriddenBy(options),
            options.EncodeDefaults);
    }

    private static SentencePieceTokenizer Create(string path, IReadOnlyDictionary<string, int>? specialTokens)
    {
        using var stream = File.OpenRead(path);
        try
        {
            return LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false, specialTokens);
        }
        catch (Exception ex)
        {
            // Protobuf's parse error derives from IOException, so the file is opened outside the try and everything is wrapped.
            throw new InvalidDataException($"'{path}' could not be read as a SentencePiece BPE model: {ex.Message}", ex);
        }
    }
}
