// Checkpoint folders as HuggingFace lays them out: either one model.safetensors, or shards
// model-0000i-of-0000N.safetensors plus model.safetensors.index.json. Loading checks that every shard
// exists before reading any tensor, and that each shard holds every tensor the index assigns to it
// (tensors a shard holds but the index does not list are ignored, as transformers does). Saving fills
// shards greedily in name order up to a byte budget (an oversized tensor gets a shard of its own), writes
// each file atomically, and writes the index last, so a crash never leaves an index naming missing shards.
using static TorchSharp.torch;

namespace TltTrainer.Models.SafeTensors;

/// <summary>Loads and saves the weights of a checkpoint folder, single-file or sharded.</summary>
public static class SafeTensorsCheckpoint
{
    /// <summary>The single-file weights name: <c>model.safetensors</c>.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>The shard index name: <c>model.safetensors.index.json</c>.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    /// <summary>Loads a checkpoint folder's weights: <c>model.safetensors</c> if present, else the shards named by <c>model.safetensors.index.json</c>.</summary>
    /// <param name="directory">The checkpoint folder.</param>
    /// <returns>CPU tensors by name, owned by the caller.</returns>
    /// <exception cref="FileNotFoundException">The folder has neither file, or a shard is missing.</exception>
    /// <exception cref="SafeTensorsFormatException">A file is malformed.</exception>
    public static Dictionary<string, Tensor> LoadWeights(string directory)
    {
        string single = Path.Combine(directory, SingleFileName);
        if (File.Exists(single))
            return SafeTensorsReader.Load(single);
        if (File.Exists(Path.Combine(directory, IndexFileName)))
            return LoadSharded(directory);
        throw new FileNotFoundException($"Checkpoint folder '{directory}' has neither '{SingleFileName}' nor '{IndexFileName}'.", single);
    }

    /// <summary>Loads a sharded checkpoint into one dictionary.</summary>
    /// <param name="directory">The folder holding the index and its shards.</param>
    /// <param name="indexFileName">The index's file name within <paramref name="directory"/>.</param>
    /// <returns>CPU tensors by name, exactly the index's <c>weight_map</c> keys, owned by the caller.</returns>
    /// <exception cref="FileNotFoundException">The index or a shard it names does not exist.</exception>
    /// <exception cref="SafeTensorsFormatException">The index or a shard is malformed, or a shard lacks a tensor the index assigns to it.</exception>
    public static Dictionary<string, Tensor> LoadSharded(string directory, string indexFileName = IndexFileName)
    {
        string indexPath = Path.Combine(directory, indexFileName);
        SafeTensorsIndex index = SafeTensorsIndex.Read(indexPath);
        var shards = index.WeightMap.GroupBy(e => e.Value, e => e.Key, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        foreach (IGrouping<string, string> shard in shards)
        {
            string shardPath = Path.Combine(directory, shard.Key);
            if (!File.Exists(shardPath))
                throw new FileNotFoundException(
                    $"Shard '{shard.Key}' named by index '{indexPath}' for {shard.Count()} tensors (e.g. '{shard.First()}') does not exist.", shardPath);
        }

        var tensors = new Dictionary<string, Tensor>(index.WeightMap.Count, StringComparer.Ordinal);
        try
        {
            foreach (IGrouping<string, string> shard in shards)
            {
                string shardPath = Path.Combine(directory, shard.Key);
                using FileStream stream = SafeTensorsReader.OpenRead(shardPath);
                SafeTensorsHeader header = SafeTensorsHeader.Read(stream, shardPath);
                var wanted = new HashSet<string>(shard, StringComparer.Ordinal);
                foreach (string name in wanted)
                {
                    if (!header.Tensors.ContainsKey(name))
                        throw new SafeTensorsFormatException(shardPath, name,
                            $"listed in index '{indexPath}' but absent from this shard, which holds {header.Tensors.Count} tensors");
                }
                foreach ((string name, Tensor tensor) in SafeTensorsReader.ReadTensors(stream, header, header.Tensors.Values.Where(i => wanted.Contains(i.Name))))
                    tensors.Add(name, tensor);
            }
            return tensors;
        }
        catch
        {
            foreach (Tensor tensor in tensors.Values)
                tensor.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Saves <paramref name="tensors"/> as shards <c>model-0000i-of-0000N.safetensors</c> of at most
    /// <paramref name="maxShardBytes"/> tensor bytes each (a larger tensor gets a shard of its own), plus
    /// <c>model.safetensors.index.json</c>, written last.
    /// </summary>
    /// <param name="directory">The folder to write into; created if missing. Existing files of the same names are replaced.</param>
    /// <param name="tensors">The tensors by name; any device, layout and supported dtype.</param>
    /// <param name="maxShardBytes">The tensor-data budget per shard, in bytes; must be positive.</param>
    /// <param name="metadata">Extra <c>__metadata__</c> entries for every shard; <c>"format": "pt"</c> is always present.</param>
    /// <returns>The index that was written.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxShardBytes"/> is not positive.</exception>
    /// <exception cref="ArgumentException">A tensor has an unsupported dtype.</exception>
    public static SafeTensorsIndex SaveSharded(string directory, IReadOnlyDictionary<string, Tensor> tensors, long maxShardBytes,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        SafeTensorsWriter.Validate(tensors);
        Directory.CreateDirectory(directory);

        var shards = new List<List<string>>();
        long shardBytes = 0, totalBytes = 0;
        foreach (string name in tensors.Keys.Order(StringComparer.Ordinal))
        {
            long bytes = SafeTensorsWriter.DataBytes(tensors[name]);
            if (shards.Count == 0 || (shards[^1].Count > 0 && shardBytes + bytes > maxShardBytes))
            {
                shards.Add([]);
                shardBytes = 0;
            }
            shards[^1].Add(name);
            shardBytes += bytes;
            totalBytes += bytes;
        }

        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < shards.Count; i++)
        {
            string file = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            SafeTensorsWriter.Save(Path.Combine(directory, file), shards[i].ToDictionary(n => n, n => tensors[n], StringComparer.Ordinal), metadata);
            foreach (string name in shards[i])
                weightMap.Add(name, file);
        }
        IO.AtomicFile.WriteAllBytes(Path.Combine(directory, IndexFileName), SafeTensorsIndex.ToJson(totalBytes, weightMap));

        var indexMetadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["total_size"] = totalBytes.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        return new SafeTensorsIndex(indexMetadata, weightMap);
    }
}
