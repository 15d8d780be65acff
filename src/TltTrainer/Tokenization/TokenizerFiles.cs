// File access for the loaders: every failure names the file, so "which of the five JSON files is broken"
// never needs a debugger. JSON accessors carry the file path for the same reason.
using System.Text.Json;

namespace TltTrainer.Tokenization;

internal static class TokenizerFiles
{
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    internal static string RequireFile(string path, string description)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"{description} '{full}' does not exist.", full);
        }

        return full;
    }

    /// <exception cref="InvalidDataException">The file is not valid JSON.</exception>
    internal static JsonDocument ParseJson(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return JsonDocument.Parse(stream, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"'{path}' is not valid JSON: {ex.Message}", ex);
        }
    }

    internal static JsonElement? Optional(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value
            : null;

    internal static JsonElement Required(JsonElement obj, string name, JsonValueKind kind, string path, string where) =>
        Optional(obj, name) is { } value && value.ValueKind == kind
            ? value
            : throw new InvalidDataException($"'{path}': {where} needs a '{name}' {Describe(kind)}.");

    internal static string? OptionalString(JsonElement obj, string name, string path, string where) => Optional(obj, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } value => value.GetString(),
        _ => throw new InvalidDataException($"'{path}': {where}.{name} must be a string."),
    };

    internal static bool OptionalBool(JsonElement obj, string name, bool fallback, string path, string where) => Optional(obj, name) switch
    {
        null => fallback,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => throw new InvalidDataException($"'{path}': {where}.{name} must be true or false."),
    };

    internal static int RequiredInt(JsonElement obj, string name, string path, string where) =>
        Optional(obj, name) is { ValueKind: JsonValueKind.Number } value && value.TryGetInt32(out int result)
            ? result
            : throw new InvalidDataException($"'{path}': {where} needs an integer '{name}'.");

    /// <summary>A JSON object of token string to id (vocab.json, a tokenizer.json model's vocab).</summary>
    internal static Dictionary<string, int> ReadVocabulary(JsonElement vocab, string path)
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
            {
                throw new InvalidDataException($"'{path}': vocabulary entry '{entry.Name}' must map to a non-negative integer id.");
            }

            result[entry.Name] = id;
        }

        return result.Count > 0 ? result : throw new InvalidDataException($"'{path}': the vocabulary is empty.");
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        _ => kind.ToString(),
    };
}
