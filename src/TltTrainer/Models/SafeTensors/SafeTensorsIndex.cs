// The index of a sharded checkpoint (model.safetensors.index.json, as HuggingFace writes it):
// {"metadata": {"total_size": ...}, "weight_map": {tensor name: shard file name}}.
// Shard names must be plain file names in the index's folder, so an index cannot point outside it.
using System.Text.Json;

namespace TltTrainer.Models.SafeTensors;

/// <summary>The parsed index of a sharded safetensors checkpoint.</summary>
/// <param name="Metadata">The <c>metadata</c> entries; non-string values (such as <c>total_size</c>) are kept as their raw JSON text.</param>
/// <param name="WeightMap">Which shard file, relative to the index's folder, holds each tensor.</param>
public sealed record SafeTensorsIndex(IReadOnlyDictionary<string, string> Metadata, IReadOnlyDictionary<string, string> WeightMap)
{
    /// <summary>The <c>total_size</c> metadata entry (bytes of tensor data over all shards), if present and numeric.</summary>
    public long? TotalSize => Metadata.TryGetValue("total_size", out string? text) && long.TryParse(text, out long size) ? size : null;

    /// <summary>Reads and validates an index file.</summary>
    /// <param name="path">The index file, e.g. <c>model.safetensors.index.json</c>.</param>
    /// <returns>The parsed index.</returns>
    /// <exception cref="SafeTensorsFormatException">The file is not valid JSON, lacks <c>weight_map</c>, or maps a tensor to something other than a plain file name.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static SafeTensorsIndex Read(string path)
    {
        byte[] json = File.ReadAllBytes(path);
        using (var document = SafeTensorsJson.ParseObject(json, path, "index"))
        {
            JsonElement root = document.RootElement;

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root.TryGetProperty("metadata", out JsonElement meta) && meta.ValueKind != JsonValueKind.Null)
            {
                if (meta.ValueKind != JsonValueKind.Object)
                    throw new SafeTensorsFormatException(path, null, $"'metadata' must be an object, found {meta.ValueKind}");
                foreach (JsonProperty entry in meta.EnumerateObject())
                    metadata[entry.Name] = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()! : entry.Value.GetRawText();
            }

            if (!root.TryGetProperty("weight_map", out JsonElement map))
                throw new SafeTensorsFormatException(path, null, "index has no 'weight_map'");
            if (map.ValueKind != JsonValueKind.Object)
                throw new SafeTensorsFormatException(path, null, $"'weight_map' must be an object, found {map.ValueKind}");

            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (JsonProperty entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw new SafeTensorsFormatException(path, entry.Name, $"weight_map value must be a file name string, found {entry.Value.ValueKind}");
                string file = entry.Value.GetString()!;
                if (file.Length == 0 || Path.GetFileName(file) != file || file is "." or "..")
                    throw new SafeTensorsFormatException(path, entry.Name, $"shard '{file}' is not a plain file name in the index's folder");
                if (!weightMap.TryAdd(entry.Name, file))
                    throw new SafeTensorsFormatException(path, entry.Name, "tensor appears more than once in weight_map");
            }
            return new SafeTensorsIndex(metadata, weightMap);
        }
    }

    /// <summary>Serializes the index as HuggingFace writes it, with <c>total_size</c> as a number.</summary>
    internal static byte[] ToJson(long totalSize, IEnumerable<KeyValuePair<string, string>> weightMap)
    {
        using var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("metadata");
            writer.WriteNumber("total_size", totalSize);
            writer.WriteEndObject();
            writer.WriteStartObject("weight_map");
            foreach ((string name, string file) in weightMap)
                writer.WriteString(name, file);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        json.WriteByte((byte)'\n');
        return json.ToArray();
    }
}
