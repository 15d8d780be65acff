// ITextTokenizer over Microsoft.ML.Tokenizers' BpeTokenizer, for tokenizer.json and vocab.json + merges.txt.
// Pipeline per HF: cut out raw special tokens -> normalize each run (prefix switchable) -> cut out
// normalized special tokens -> split into words -> BPE per word. The library does the merging; the
// adapter does what the library lacks: byte fallback (<0xAB> tokens for characters outside the
// vocabulary), ignore_merges, "no pre-tokenizer", and the per-call prefix switch.
// Known limit: merges between byte-fallback tokens are not applied (unknown characters are barriers).
using System.Text;
using Microsoft.ML.Tokenizers;

namespace TltTrainer.Tokenization;

internal sealed class BpeTextTokenizer : ITextTokenizer
{
    private readonly BpeSpec _spec;
    private readonly BpeTokenizer _bpe;
    private readonly SpecialTokenMatcher? _rawSpecials;
    private readonly SpecialTokenMatcher? _normalizedSpecials;
    private readonly SplittingPreTokenizer _words;
    private readonly Dictionary<string, int> _addedIds;
    private readonly HashSet<int> _knownRunes;
    private readonly string?[] _tokens;
    private readonly TokenDecoder _decoder;
    private readonly int? _unknownId;
    private readonly bool _configuredPrefix;

    internal BpeTextTokenizer(BpeSpec spec, SpecialTokenNames names, EncodeOptions encodeDefaults)
    {
        _spec = spec;
        _addedIds = spec.AddedTokens.ToDictionary(t => t.Content, t => t.Id, StringComparer.Ordinal);
        _rawSpecials = SpecialTokenMatcher.Create(spec.AddedTokens.Where(t => !t.Normalized).Select(ToPair));
        _normalizedSpecials = SpecialTokenMatcher.Create(spec.AddedTokens.Where(t => t.Normalized).Select(ToPair));
        _words = new SplittingPreTokenizer(spec.WordPattern, SpecialTokenMatcher.Create(spec.AddedTokens.Select(ToPair)));
        _knownRunes = spec.Vocabulary.Keys
            .Where(k => Rune.DecodeFromUtf16(k, out _, out int n) == System.Buffers.OperationStatus.Done && n == k.Length)
            .Select(k => Rune.GetRuneAt(k, 0).Value)
            .ToHashSet();
        _bpe = CreateLibraryTokenizer(spec, _words);

        VocabularySize = spec.Vocabulary.Values.Concat(spec.AddedTokens.Select(t => t.Id)).DefaultIfEmpty(-1).Max() + 1;
        _tokens = new string?[VocabularySize];
        foreach (var (token, id) in spec.Vocabulary)
        {
            _tokens[id] = token;
        }

        _unknownId = spec.UnknownToken is null ? null : GetId(spec.UnknownToken)
            ?? throw new InvalidDataException($"'{spec.SourcePath}': unk token '{spec.UnknownToken}' is not in the vocabulary.");
        (BosId, EosId, PadId) = names.Resolve(GetId, spec.SourcePath);
        DefaultEncodeOptions = encodeDefaults;
        _configuredPrefix = spec.AddPrefixSpace || spec.Normalizer?.HasPrepend == true;
        _decoder = new TokenDecoder(spec.Decoder, _tokens, spec.AddedTokens.ToDictionary(t => t.Id));
    }

    public int VocabularySize { get; }

    public int? BosId { get; }

    public int? EosId { get; }

    public int? PadId { get; }

    public EncodeOptions DefaultEncodeOptions { get; }

    public Tokenizer UnderlyingTokenizer => _bpe;

    public IReadOnlyList<int> Encode(string text) => Encode(text, DefaultEncodeOptions);

    public IReadOnlyList<int> Encode(string text, EncodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(options);
        var ids = new List<int>(text.Length / 3 + 2);
        if (options.AddBos)
        {
            ids.Add(BosId ?? throw new InvalidOperationException($"'{_spec.SourcePath}' defines no BOS token; set TokenizerLoadOptions.BosToken."));
        }

        bool prefix = options.AddPrefixSpace ?? _configuredPrefix;
        foreach (var raw in Split(_rawSpecials, text))
        {
            if (raw.SpecialId is int rawId)
            {
                ids.Add(rawId);
                continue;
            }

            string normalized = Normalize(text.Substring(raw.Start, raw.Length), prefix);
            foreach (var piece in Split(_normalizedSpecials, normalized))
            {
                if (piece.SpecialId is int id)
                {
                    ids.Add(id);
                    continue;
                }

                foreach (var (offset, length) in _words.SplitWords(normalized, piece.Start, piece.Length))
                {
                    EncodeWord(normalized.AsSpan(offset, length), ids);
                }
            }
        }

        if (options.AddEos)
        {
            ids.Add(EosId ?? throw new InvalidOperationException($"'{_spec.SourcePath}' defines no EOS token; set TokenizerLoadOptions.EosToken."));
        }

        return ids;
    }

    public string Decode(IEnumerable<int> ids) => Decode(ids, skipSpecialTokens: false);

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens) =>
        _decoder.Decode(ids, skipSpecialTokens, stripPrefix: DefaultEncodeOptions.AddPrefixSpace ?? _configuredPrefix);

    public string? GetToken(int id) =>
        _spec.AddedTokens.FirstOrDefault(t => t.Id == id)?.Content ?? ((uint)id < (uint)_tokens.Length ? _tokens[id] : null);

    public int? GetId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _addedIds.TryGetValue(token, out int added) ? added
            : _spec.Vocabulary.TryGetValue(token, out int id) ? id
            : null;
    }

    private static KeyValuePair<string, int> ToPair(AddedToken t) => new(t.Content, t.Id);

    private static IEnumerable<TextPiece> Split(SpecialTokenMatcher? matcher, string text) =>
        matcher?.Split(text, 0, text.Length) ?? [new TextPiece(0, text.Length, null)];

    private string Normalize(string text, bool prefix)
    {
        if (_spec.Normalizer is { HasPrepend: true } normalizer)
        {
            return normalizer.Normalize(text, includePrepend: prefix);
        }

        // Byte-level add_prefix_space: a space unless the text already starts with whitespace.
        if (prefix && text.Length > 0 && !char.IsWhiteSpace(text[0]))
        {
            text = " " + text;
        }

        return _spec.Normalizer?.Normalize(text, includePrepend: true) ?? text;
    }

    private void EncodeWord(ReadOnlySpan<char> word, List<int> ids)
    {
        if (_spec.IgnoreMerges)
        {
            string key = _spec.ByteLevel ? ByteLevelAlphabet.Encode(word) : word.ToString();
            if (_spec.Vocabulary.TryGetValue(key, out int whole))
            {
                ids.Add(whole);
                return;
            }
        }

        if (_spec.ByteLevel)
        {
            ids.AddRange(_bpe.EncodeToIds(word, considerPreTokenization: false, considerNormalization: false));
            return;
        }

        // Characters outside the vocabulary split the word: BPE runs on the known stretches between them.
        int runStart = 0;
        bool previousWasUnknown = false;
        int i = 0;
        while (i < word.Length)
        {
            Rune.DecodeFromUtf16(word[i..], out Rune rune, out int width);
            if (_knownRunes.Contains(rune.Value))
            {
                i += width;
                continue;
            }

            if (i > runStart)
            {
                ids.AddRange(_bpe.EncodeToIds(word[runStart..i], considerPreTokenization: false, considerNormalization: false));
                previousWasUnknown = false;
            }

            AddUnknown(rune, ids, ref previousWasUnknown);
            i += width;
            runStart = i;
        }

        if (word.Length > runStart)
        {
            ids.AddRange(_bpe.EncodeToIds(word[runStart..], considerPreTokenization: false, considerNormalization: false));
        }
    }

    /// <summary>HF's rule: the character's UTF-8 bytes as &lt;0xAB&gt; tokens if all exist, else unk (fused with a previous unk).</summary>
    private void AddUnknown(Rune rune, List<int> ids, ref bool previousWasUnknown)
    {
        if (_spec.ByteFallback)
        {
            Span<byte> utf8 = stackalloc byte[4];
            int count = rune.EncodeToUtf8(utf8);
            var byteIds = new int[count];
            bool all = true;
            for (int b = 0; b < count && all; b++)
            {
                all = _spec.Vocabulary.TryGetValue(TokenDecoder.ByteToken(utf8[b]), out byteIds[b]);
            }

            if (all)
            {
                ids.AddRange(byteIds);
                previousWasUnknown = false;
                return;
            }
        }

        int unknown = _unknownId ?? throw new ArgumentException(
            $"The text contains '{rune}' (U+{rune.Value:X4}), which '{_spec.SourcePath}' can neither encode nor map to an unk token.");
        if (!(previousWasUnknown && _spec.FuseUnknown))
        {
            ids.Add(unknown);
        }

        previousWasUnknown = true;
    }

    private static BpeTokenizer CreateLibraryTokenizer(BpeSpec spec, PreTokenizer preTokenizer)
    {
        var options = new BpeOptions(spec.Vocabulary)
        {
            Merges = spec.Merges,
            SpecialTokens = spec.AddedTokens.Count == 0 ? null : spec.AddedTokens.ToDictionary(t => t.Content, t => t.Id),
            // The library requires its unk token in the vocabulary proper; the adapter handles unknowns itself anyway.
            UnknownToken = spec.UnknownToken is not null && spec.Vocabulary.ContainsKey(spec.UnknownToken) ? spec.UnknownToken : null,
            FuseUnknownTokens = spec.FuseUnknown,
            ByteLevel = spec.ByteLevel,
            Normalizer = spec.Normalizer,
            PreTokenizer = preTokenizer,
        };
        try
        {
            return BpeTokenizer.Create(options);
        }
        catch (InvalidOperationException ex)
        {
            throw new InvalidDataException($"'{spec.SourcePath}': the BPE vocabulary and merges are inconsistent: {ex.Message}", ex);
        }
    }
}
