// ITextTokenizer over a Microsoft.ML.Tokenizers object that does its own text handling end to end
// (SentencePiece's LlamaTokenizer, TiktokenTokenizer). The loader supplies the encode and decode calls;
// this class adds what every adapter must offer: explicit BOS/EOS, special-token skipping and id lookups.
using Microsoft.ML.Tokenizers;

namespace TltTrainer.Tokenization;

internal sealed class LibraryTextTokenizer : ITextTokenizer
{
    private readonly string _source;
    private readonly Func<string, bool, IReadOnlyList<int>> _encode;
    private readonly Func<IEnumerable<int>, string> _decode;
    private readonly bool _configuredPrefix;
    private readonly IReadOnlyDictionary<string, int> _ids;
    private readonly string?[] _tokens;
    private readonly IReadOnlySet<int> _specialIds;

    /// <param name="inner">The library tokenizer.</param>
    /// <param name="source">File it was loaded from, for messages.</param>
    /// <param name="encode">Encodes text without BOS/EOS; the flag says whether to add the prefix space.</param>
    /// <param name="decode">Decodes ids, special tokens included.</param>
    /// <param name="configuredPrefix">Whether the files ask for a prefix space.</param>
    /// <param name="ids">Every token string (vocabulary and special) to its id.</param>
    /// <param name="specialIds">Ids that <c>skipSpecialTokens</c> drops.</param>
    /// <param name="names">BOS/EOS/pad names.</param>
    /// <param name="encodeDefaults">Options for <see cref="Encode(string)"/>.</param>
    internal LibraryTextTokenizer(
        Tokenizer inner,
        string source,
        Func<string, bool, IReadOnlyList<int>> encode,
        Func<IEnumerable<int>, string> decode,
        bool configuredPrefix,
        IReadOnlyDictionary<string, int> ids,
        IReadOnlySet<int> specialIds,
        SpecialTokenNames names,
        EncodeOptions encodeDefaults)
    {
        UnderlyingTokenizer = inner;
        _source = source;
        _encode = encode;
        _decode = decode;
        _configuredPrefix = configuredPrefix;
        _ids = ids;
        _specialIds = specialIds;
        VocabularySize = ids.Values.DefaultIfEmpty(-1).Max() + 1;
        _tokens = new string?[VocabularySize];
        foreach (var (token, id) in ids)
        {
            _tokens[id] ??= token;
        }

        (BosId, EosId, PadId) = names.Resolve(GetId, source);
        DefaultEncodeOptions = encodeDefaults;
    }

    public int VocabularySize { get; }

    public int? BosId { get; }

    public int? EosId { get; }

    public int? PadId { get; }

    public EncodeOptions DefaultEncodeOptions { get; }

    public Tokenizer UnderlyingTokenizer { get; }

    public IReadOnlyList<int> Encode(string text) => Encode(text, DefaultEncodeOptions);

    public IReadOnlyList<int> Encode(string text, EncodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(options);
        var ids = new List<int>();
        if (options.AddBos)
        {
            ids.Add(BosId ?? throw new InvalidOperationException($"'{_source}' defines no BOS token; set TokenizerLoadOptions.BosToken."));
        }

        ids.AddRange(_encode(text, options.AddPrefixSpace ?? _configuredPrefix));
        if (options.AddEos)
        {
            ids.Add(EosId ?? throw new InvalidOperationException($"'{_source}' defines no EOS token; set TokenizerLoadOptions.EosToken."));
        }

        return ids;
    }

    public string Decode(IEnumerable<int> ids) => Decode(ids, skipSpecialTokens: false);

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(ids);
        // Unknown ids are dropped here: some library decoders stop or throw at the first one.
        var known = ids.Where(id => (uint)id < (uint)_tokens.Length && _tokens[id] is not null);
        return _decode(skipSpecialTokens ? known.Where(id => !_specialIds.Contains(id)) : known);
    }

    public string? GetToken(int id) => (uint)id < (uint)_tokens.Length ? _tokens[id] : null;

    public int? GetId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _ids.TryGetValue(token, out int id) ? id : null;
    }
}
