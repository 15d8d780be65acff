// The task tokenizer seen through the library's ITextTokenizer, so the RL trainer and samples treat the
// embedded task like any HuggingFace model: Encode prepends BOS by default (every model input starts
// with it), Decode drops the special tokens.
using Microsoft.ML.Tokenizers;
using TltTrainer.Tokenization;

namespace TltTrainer.Tasks;

/// <summary><see cref="ITextTokenizer"/> view of <see cref="ChainArithmeticTokenizer"/>.</summary>
public sealed class ChainArithmeticTextTokenizer : ITextTokenizer
{
    private static readonly string[] SpecialNames = { "<pad>", "<s>", "</s>" };
    private const string Alphabet = "0123456789+=;A:?";
    private readonly ChainArithmeticTokenizer _inner = ChainArithmeticTokenizer.Instance;

    /// <summary>The shared instance.</summary>
    public static ChainArithmeticTextTokenizer Instance { get; } = new();

    /// <inheritdoc />
    public int VocabularySize => _inner.VocabularySize;

    /// <inheritdoc />
    public int? BosId => _inner.BosId;

    /// <inheritdoc />
    public int? EosId => _inner.EosId;

    /// <inheritdoc />
    public int? PadId => _inner.PadId;

    /// <inheritdoc />
    public EncodeOptions DefaultEncodeOptions { get; } = new() { AddBos = true };

    /// <inheritdoc />
    public Tokenizer UnderlyingTokenizer => _inner.Inner;

    /// <inheritdoc />
    public IReadOnlyList<int> Encode(string text) => Encode(text, DefaultEncodeOptions);

    /// <inheritdoc />
    public IReadOnlyList<int> Encode(string text, EncodeOptions options)
    {
        var ids = new List<int>();
        if (options.AddBos) ids.Add(_inner.BosId);
        ids.AddRange(_inner.Encode(text));
        if (options.AddEos) ids.Add(_inner.EosId);
        return ids;
    }

    /// <inheritdoc />
    /// <remarks>The model's vocabulary (32) is larger than the task's (18): ids the task lacks decode as U+FFFD, which no answer contains.</remarks>
    public string Decode(IEnumerable<int> ids) =>
        string.Concat(ids.Select(id => id >= 0 && id < VocabularySize ? _inner.Decode(new[] { id }) : "\uFFFD"));

    /// <inheritdoc />
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens) => Decode(ids);

    /// <inheritdoc />
    public string? GetToken(int id) => id < 0 || id >= VocabularySize ? null : id < 3 ? SpecialNames[id] : Alphabet[id - 3].ToString();

    /// <inheritdoc />
    public int? GetId(string token)
    {
        int special = Array.IndexOf(SpecialNames, token);
        if (special >= 0) return special;
        return token.Length == 1 && Alphabet.Contains(token[0]) ? 3 + Alphabet.IndexOf(token[0]) : null;
    }
}
