// Maps a HuggingFace tokenizer.json onto a BpeSpec. Only BPE models are accepted; anything that cannot be
// reproduced faithfully (WordPiece/Unigram models, dropout, subword prefixes, unknown normalizers,
// pre-tokenizers or decoders) is a NotSupportedException naming the file and the component, rather
// than a tokenizer that silently produces different ids. Merges are taken from the JSON array directly,
// never via a merges.txt (TinyStories has merges containing newlines).
using System.Text.Json;
using static TltTrainer.Tokenization.TokenizerFiles;

namespace TltTrainer.Tokenization;

internal static class TokenizerJsonReader
{
    /// <exception cref="InvalidDataException">The file is malformed.</exception>
    /// <exception cref="NotSupportedException">The file describes something this loader cannot reproduce.</exception>
    internal static BpeSpec Read(string path)
    {
        using var document = ParseJson(path);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"'{path}': the top level must be a JSON object.");
        }

        var model = Required(root, "model", JsonValueKind.Object, path, "the file");
        string type = OptionalString(model, "type", path, "model") ?? (Optional(model, "merges") is null ? "unknown" : "BPE");
        if (type != "BPE")
        {
            throw new NotSupportedException($"'{path}': model type '{type}' is not supported; only BPE tokenizers can be loaded.");
        }

        RejectUnsupportedModelOptions(model, path);
        var (wordPattern, byteLevel, addPrefixSpace) = TokenizerJsonComponents.ReadPreTokenizer(Optional(root, "pre_tokenizer"), path);
        var (bos, eos) = ReadTemplateSpecials(Optional(root, "post_processor"));
        return new BpeSpec
        {
            SourcePath = path,
            Vocabulary = ReadVocabulary(Required(model, "vocab", JsonValueKind.Object, path, "model"), path),
            Merges = ReadMerges(Required(model, "merges", JsonValueKind.Array, path, "model"), path),
            AddedTokens = ReadAddedTokens(Optional(root, "added_tokens"), path),
            UnknownToken = OptionalString(model, "unk_token", path, "model"),
            FuseUnknown = OptionalBool(model, "fuse_unk", false, path, "model"),
            ByteFallback = OptionalBool(model, "byte_fallback", false, path, "model"),
            IgnoreMerges = OptionalBool(model, "ignore_merges", false, path, "model"),
            ByteLevel = byteLevel,
            AddPrefixSpace = addPrefixSpace,
            WordPattern = wordPattern,
            Normalizer = TokenizerJsonComponents.ReadNormalizer(Optional(root, "normalizer"), path),
            Decoder = TokenizerJsonComponents.ReadDecoder(Optional(root, "decoder"), byteLevel, path),
            TemplateBos = bos,
            TemplateEos = eos,
        };
    }

    private static void RejectUnsupportedModelOptions(JsonElement model, string path)
    {
        if (Optional(model, "dropout") is { ValueKind: JsonValueKind.Number } dropout && dropout.GetDouble() > 0)
        {
            throw new NotSupportedException($"'{path}': BPE dropout is not supported (model.dropout = {dropout.GetDouble()}).");
        }

        foreach (string name in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (!string.IsNullOrEmpty(OptionalString(model, name, path, "model")))
            {
                throw new NotSupportedException($"'{path}': model.{name} is not supported.");
            }
        }
    }

    /// <summary>Merges as "a b" strings (older files) or ["a", "b"] pairs (newer files), kept in priority order.</summary>
    private static List<string> ReadMerges(JsonElement merges, string path)
    {
        var result = new List<string>(merges.GetArrayLength());
        int index = 0;
        foreach (var merge in merges.EnumerateArray())
        {
            string line = merge.ValueKind switch
            {
                JsonValueKind.String => merge.GetString()!,
                JsonValueKind.Array when merge.GetArrayLength() == 2
                    && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String
                    => JoinPair(merge[0].GetString()!, merge[1].GetString()!, index, path),
                _ => throw new InvalidDataException($"'{path}': model.merges[{index}] must be \"a b\" or [\"a\", \"b\"]."),
            };
            int space = line.IndexOf(' ');
            if (space <= 0 || space == line.Length - 1 || line.IndexOf(' ', space + 1) >= 0)
            {
                throw new InvalidDataException($"'{path}': model.merges[{index}] ('{line}') is not two tokens separated by one space.");
            }

            result.Add(line);
            index++;
        }

        return result;
    }

    private static string JoinPair(string left, string right, int index, string path) =>
        left.Contains(' ') || right.Contains(' ')
            ? throw new NotSupportedException(
                $"'{path}': model.merges[{index}] contains a space inside a token, which Microsoft.ML.Tokenizers' BPE cannot represent.")
            : $"{left} {right}";

    private static List<AddedToken> ReadAddedTokens(JsonElement? added, string path)
    {
        var result = new List<AddedToken>();
        if (added is not { ValueKind: JsonValueKind.Array } array)
        {
            return result;
        }

        foreach (var token in array.EnumerateArray())
        {
            string content = OptionalString(token, "content", path, "added_tokens[]")
                ?? throw new InvalidDataException($"'{path}': an added_tokens entry has no 'content'.");
            result.Add(new AddedToken(
                content,
                RequiredInt(token, "id", path, $"added token '{content}'"),
                OptionalBool(token, "special", false, path, "added_tokens[]"),
                OptionalBool(token, "normalized", false, path, "added_tokens[]")));
        }

        return result;
    }

    /// <summary>The special tokens a TemplateProcessing post-processor puts first (BOS) and last (EOS) for one sequence.</summary>
    private static (string? Bos, string? Eos) ReadTemplateSpecials(JsonElement? processor)
    {
        if (processor is not { } p || p.ValueKind != JsonValueKind.Object)
        {
            return (null, null);
        }

        if (Optional(p, "processors") is { ValueKind: JsonValueKind.Array } nested)
        {
            return nested.EnumerateArray().Select(e => ReadTemplateSpecials(e)).FirstOrDefault(r => r.Bos is not null || r.Eos is not null);
        }

        if (Optional(p, "single") is not { ValueKind: JsonValueKind.Array } single || single.GetArrayLength() == 0)
        {
            return (null, null);
        }

        static string? SpecialId(JsonElement item) =>
            Optional(item, "SpecialToken") is { } special && Optional(special, "id") is { ValueKind: JsonValueKind.String } id ? id.GetString() : null;

        return (SpecialId(single[0]), SpecialId(single[single.GetArrayLength() - 1]));
    }
}
