// Reads the HF side files of a model folder: tokenizer_config.json (bos/eos/pad/unk names,
// added_tokens_decoder, tokenizer_class) and special_tokens_map.json (names only; fills gaps).
// Token names may be plain strings or {"content": "..."} objects; both files are optional.
using System.Globalization;
using System.Text.Json;
using static TltTrainer.Tokenization.TokenizerFiles;

namespace TltTrainer.Tokenization;

/// <summary>What the side files of a model folder say about special tokens.</summary>
internal sealed record TokenizerConfig(SpecialTokenNames Names, IReadOnlyList<AddedToken> AddedTokens, string? TokenizerClass)
{
    internal static TokenizerConfig Empty { get; } = new(default, [], null);
}

internal static class TokenizerConfigReader
{
    internal const string ConfigFileName = "tokenizer_config.json";
    internal const string SpecialTokensMapFileName = "special_tokens_map.json";

    /// <exception cref="InvalidDataException">A present file is malformed.</exception>
    internal static TokenizerConfig Read(string directory)
    {
        var names = default(SpecialTokenNames);
        var added = new List<AddedToken>();
        string? tokenizerClass = null;

        string configPath = Path.Combine(directory, ConfigFileName);
        if (File.Exists(configPath))
        {
            using var config = ParseJson(configPath);
            var root = config.RootElement;
            names = ReadNames(root, configPath);
            tokenizerClass = OptionalString(root, "tokenizer_class", configPath, "the file");
            if (Optional(root, "added_tokens_decoder") is { ValueKind: JsonValueKind.Object } decoder)
            {
                foreach (var entry in decoder.EnumerateObject())
                {
                    if (!int.TryParse(entry.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int id))
                    {
                        throw new InvalidDataException($"'{configPath}': added_tokens_decoder key '{entry.Name}' is not a token id.");
                    }

                    string content = OptionalString(entry.Value, "content", configPath, $"added_tokens_decoder.{entry.Name}")
                        ?? throw new InvalidDataException($"'{configPath}': added_tokens_decoder.{entry.Name} has no 'content'.");
                    added.Add(new AddedToken(
                        content,
                        id,
                        OptionalBool(entry.Value, "special", false, configPath, "added_tokens_decoder entry"),
                        OptionalBool(entry.Value, "normalized", false, configPath, "added_tokens_decoder entry")));
                }
            }
        }

        string mapPath = Path.Combine(directory, SpecialTokensMapFileName);
        if (File.Exists(mapPath))
        {
            using var map = ParseJson(mapPath);
            var fromMap = ReadNames(map.RootElement, mapPath);
            names = new SpecialTokenNames(names.Bos ?? fromMap.Bos, names.Eos ?? fromMap.Eos, names.Pad ?? fromMap.Pad);
        }

        return new TokenizerConfig(names, added, tokenizerClass);
    }

    private static SpecialTokenNames ReadNames(JsonElement root, string path) =>
        new(ReadName(root, "bos_token", path), ReadName(root, "eos_token", path), ReadName(root, "pad_token", path));

    private static string? ReadName(JsonElement root, string name, string path) => Optional(root, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } s => s.GetString(),
        { ValueKind: JsonValueKind.Object } o => OptionalString(o, "content", path, name),
        _ => throw new InvalidDataException($"'{path}': {name} must be a string or an object with 'content'."),
    };
}
