// The one tokenizer contract the rest of TltTrainer sees.
// Design: ids in, ids out, no tensors; special tokens are explicit (BOS/EOS are added only when
// EncodeOptions asks), so a trainer never gets a BOS it did not request. The Microsoft.ML.Tokenizers
// object underneath stays reachable for callers that need offsets, counting or streaming decode.
using Microsoft.ML.Tokenizers;

namespace TltTrainer.Tokenization;

/// <summary>Turns text into token ids and back for one model's vocabulary.</summary>
/// <remarks>Create instances with <see cref="TokenizerLoader"/>. Implementations are thread-safe for concurrent encode and decode.</remarks>
public interface ITextTokenizer
{
    /// <summary>Number of rows the model's embedding needs: the largest id the tokenizer can emit, plus one.</summary>
    int VocabularySize { get; }

    /// <summary>Beginning-of-sequence id, or <see langword="null"/> when the tokenizer defines none.</summary>
    int? BosId { get; }

    /// <summary>End-of-sequence id, or <see langword="null"/> when the tokenizer defines none.</summary>
    int? EosId { get; }

    /// <summary>Padding id, or <see langword="null"/> when the tokenizer defines none.</summary>
    int? PadId { get; }

    /// <summary>The options <see cref="Encode(string)"/> uses; fixed when the tokenizer was loaded.</summary>
    EncodeOptions DefaultEncodeOptions { get; }

    /// <summary>
    /// The Microsoft.ML.Tokenizers object this adapter drives. It is configured as closely to the source files as
    /// the library allows, but adapter-only behaviour (byte fallback, the prefix-space switch, BOS/EOS from
    /// <see cref="EncodeOptions"/>) is not part of it, so prefer this interface's methods for model input.
    /// </summary>
    Tokenizer UnderlyingTokenizer { get; }

    /// <summary>Encodes <paramref name="text"/> with <see cref="DefaultEncodeOptions"/>.</summary>
    /// <param name="text">Text to encode; special-token strings in it (such as <c>&lt;|endoftext|&gt;</c>) become their ids.</param>
    /// <returns>The token ids.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    IReadOnlyList<int> Encode(string text);

    /// <summary>Encodes <paramref name="text"/> with explicit options.</summary>
    /// <param name="text">Text to encode; special-token strings in it become their ids.</param>
    /// <param name="options">Whether to add BOS/EOS and the prefix space.</param>
    /// <returns>The token ids.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="InvalidOperationException">BOS or EOS is requested but the tokenizer has none.</exception>
    IReadOnlyList<int> Encode(string text, EncodeOptions options);

    /// <summary>Decodes ids to text, writing special tokens out as their strings.</summary>
    /// <param name="ids">Token ids; ids outside the vocabulary are skipped.</param>
    /// <returns>The text. Incomplete UTF-8 at the end (a byte token cut mid-character) becomes U+FFFD.</returns>
    string Decode(IEnumerable<int> ids);

    /// <summary>Decodes ids to text.</summary>
    /// <param name="ids">Token ids; ids outside the vocabulary are skipped.</param>
    /// <param name="skipSpecialTokens">When true, special tokens (BOS, EOS, pad, other added special tokens) produce no text.</param>
    /// <returns>The text.</returns>
    string Decode(IEnumerable<int> ids, bool skipSpecialTokens);

    /// <summary>The vocabulary string of one id, as stored in the tokenizer files (for example <c>"▁the"</c> or <c>"Ġthe"</c>).</summary>
    /// <param name="id">Token id.</param>
    /// <returns>The token string, or <see langword="null"/> when the id is unknown.</returns>
    string? GetToken(int id);

    /// <summary>The id of a vocabulary or special-token string.</summary>
    /// <param name="token">Token string exactly as stored in the tokenizer files.</param>
    /// <returns>The id, or <see langword="null"/> when the string is not a token.</returns>
    int? GetId(string token);
}
