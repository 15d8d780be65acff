// Character-level tokenizer of the chain-arithmetic task, built on Microsoft.ML.Tokenizers' BpeTokenizer
// with a vocabulary of single characters and no merges (so every character is one token and decoding
// is exact). Ids are fixed: PAD=0, BOS=1, EOS=2, digits 0-9 = 3-12, then '+', '=', ';', 'A', ':', '?' (the retry marker).
// Characters are checked before encoding because BPE without an unknown token would silently drop them.
using Microsoft.ML.Tokenizers;

namespace TltTrainer.Tasks;

/// <summary>Character-level tokenizer with fixed ids for <see cref="ChainArithmeticTask"/> text.</summary>
public sealed class ChainArithmeticTokenizer
{
    private const string Alphabet = "0123456789+=;A:?";
    private const string PadToken = "<pad>", BosToken = "<s>", EosToken = "</s>";
    private const int FirstCharacterId = 3;
    private readonly BpeTokenizer _bpe;

    /// <summary>Builds the tokenizer (cheap; the vocabulary is fixed).</summary>
    public ChainArithmeticTokenizer()
    {
        var vocabulary = new Dictionary<string, int> { [PadToken] = PadId, [BosToken] = BosId, [EosToken] = EosId };
        for (int i = 0; i < Alphabet.Length; i++) vocabulary[Alphabet[i].ToString()] = FirstCharacterId + i;
        var specials = new Dictionary<string, int> { [PadToken] = PadId, [BosToken] = BosId, [EosToken] = EosId };
        _bpe = BpeTokenizer.Create(new BpeOptions(vocabulary) { SpecialTokens = specials });
    }

    /// <summary>A shared instance (the tokenizer is immutable).</summary>
    public static ChainArithmeticTokenizer Instance { get; } = new();

    /// <summary>Padding id (0).</summary>
    public int PadId => 0;

    /// <summary>Beginning-of-sequence id (1); every model input starts with it.</summary>
    public int BosId => 1;

    /// <summary>End-of-sequence id (2); ends every worked response.</summary>
    public int EosId => 2;

    /// <summary>Number of ids (19): the three special tokens and the 16 characters <c>0-9 + = ; A : ?</c>.</summary>
    public int VocabularySize => FirstCharacterId + Alphabet.Length;

    /// <summary>The underlying Microsoft.ML.Tokenizers tokenizer.</summary>
    public Tokenizer Inner => _bpe;

    /// <summary>Ids of <paramref name="text"/>, one per character, without BOS/EOS.</summary>
    /// <exception cref="ArgumentException">A character is outside the alphabet; the message names it and its index.</exception>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        for (int i = 0; i < text.Length; i++)
        {
            if (Alphabet.IndexOf(text[i]) < 0)
                throw new ArgumentException($"Character '{text[i]}' (U+{(int)text[i]:X4}) at index {i} is not in the alphabet \"{Alphabet}\".", nameof(text));
        }
        if (text.Length == 0) return Array.Empty<int>();
        var ids = _bpe.EncodeToIds(text);
        if (ids.Count != text.Length) throw new InvalidOperationException($"BPE produced {ids.Count} ids for {text.Length} characters.");
        return ids.ToArray();
    }

    /// <summary>Text of <paramref name="ids"/>; PAD, BOS and EOS are dropped.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside [0, <see cref="VocabularySize"/>).</exception>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var kept = new List<int>();
        foreach (int id in ids)
        {
            if (id < 0 || id >= VocabularySize)
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id must lie in [0, {VocabularySize}).");
            if (id >= FirstCharacterId) kept.Add(id);
        }
        return kept.Count == 0 ? string.Empty : _bpe.Decode(kept);
    }
}
