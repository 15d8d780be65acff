using System.Text.Json;

namespace TltTrainer.Models.SafeTensors;

/// <summary>Parsing of the JSON parts of safetensors files (header, index) with errors that name the file.</summary>
internal static class SafeTensorsJson
{
    /// <summary>Parses <paramref name="json"/> and checks its root is an object; the caller disposes the document.</summary>
    /// <param name="what">What the JSON is, for messages (<c>header</c>, <c>index</c>).</param>
    /// <exception cref="SafeTensorsFormatException">Not valid JSON, or not an object.</exception>
    public static JsonDocument ParseObject(byte[] json, string path, string what)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new SafeTensorsFormatException(path, null, $"{what} is not valid JSON: {e.Message}", e);
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            var kind = document.RootElement.ValueKind;
            document.Dispose();
            throw new SafeTensorsFormatException(path, null, $"{what} must be a JSON object, found {kind}");
        }
        return document;
    }
}
