// The trained drafter as a deployable by-product: export an EagleDraftModel as the EAGLE-1/2 (Llama)
// checkpoint folder that vLLM's and SGLang's EAGLE loaders read (config.json + model.safetensors), and
// import such a folder back. Our fc input order [embed(x_{t+1}); h_t] is the one all three reference
// implementations use, so fc.weight is written unpermuted. The folder is written under a temporary
// name and renamed into place (AtomicDirectory); imports check every name, shape, dtype and config
// field against the target before any weight is copied. Layout and sources: docs/eagle-export.md.
using System.Globalization;
using TltTrainer.IO;
using TltTrainer.Models;
using TltTrainer.Models.SafeTensors;
using static TorchSharp.torch;
using Layout = TltTrainer.Speculative.EagleCheckpointLayout;

namespace TltTrainer.Speculative;

/// <summary>Exports and imports EAGLE drafter checkpoints in the layout SGLang and vLLM serve.</summary>
public static class EagleCheckpoint
{
    /// <summary>
    /// Writes <paramref name="drafter"/> as an EAGLE checkpoint folder (<c>config.json</c> + <c>model.safetensors</c>) at
    /// <paramref name="directory"/>, atomically: the folder appears complete or not at all.
    /// </summary>
    /// <param name="drafter">The trained drafter; it is only read.</param>
    /// <param name="targetConfig">The target (policy) it drafts for; gives the shape and the config fields.</param>
    /// <param name="directory">The folder to create. It must be absent or empty unless <see cref="EagleExportOptions.Overwrite"/> is set.</param>
    /// <param name="options">Dtype, serving layout, overwrite; defaults when null.</param>
    /// <param name="embedding">
    /// The target's token-embedding matrix <c>[V, H]</c>, written as <c>embed_tokens.weight</c>: required with
    /// <see cref="EagleExportOptions.PipelineParallel"/> (vLLM with more than one pipeline stage loads the drafter's own copy) and
    /// refused without it. At one stage SGLang, vLLM and the EAGLE reference code take the target's embedding, and vLLM builds
    /// that both flag a checkpoint's <c>embed_tokens</c> as the drafter's own and skip loading it would leave the drafter on an
    /// unloaded embedding (docs/eagle-export.md, with the versions read).
    /// </param>
    /// <exception cref="ArgumentException">
    /// Invalid options; the drafter or embedding does not fit <paramref name="targetConfig"/>; an embedding without
    /// <see cref="EagleExportOptions.PipelineParallel"/>, or that option without an embedding.
    /// </exception>
    /// <exception cref="IOException">The folder exists and is not empty (and overwriting is off or it holds other files); nothing is changed.</exception>
    public static void Export(EagleDraftModel drafter, TransformerConfig targetConfig, string directory,
        EagleExportOptions? options = null, Tensor? embedding = null)
    {
        ArgumentNullException.ThrowIfNull(drafter);
        ArgumentNullException.ThrowIfNull(targetConfig);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        options = (options ?? new EagleExportOptions()).Validate();
        targetConfig.Validate("targetConfig");
        CheckDrafterFits(drafter.Config, targetConfig);
        if (embedding is not null && !options.PipelineParallel)
            throw new ArgumentException("embedding: an embed_tokens copy is written only for vLLM with pipeline parallelism (EagleExportOptions.PipelineParallel). "
                + "At one pipeline stage every engine uses the target's embedding, and vLLM builds that mark a checkpoint's embed_tokens as the drafter's own "
                + "while skipping its load would leave the drafter on an unloaded embedding (docs/eagle-export.md).", nameof(embedding));
        if (embedding is null && options.PipelineParallel)
            throw new ArgumentException("PipelineParallel = true needs the target's embedding (the embedding argument): with more than one pipeline stage "
                + "vLLM loads the drafter's own embed_tokens copy from its checkpoint.", nameof(embedding));
        var specs = Layout.Tensors(targetConfig, options.Layout, embedding is not null);
        if (embedding is not null && !embedding.shape.SequenceEqual(specs.Single(s => s.Name == Layout.EmbeddingName).Shape))
            throw new ArgumentException($"embedding has shape {Shape(embedding.shape)}, expected [{targetConfig.VocabSize}, {targetConfig.HiddenSize}] (vocab_size, hidden_size).", nameof(embedding));
        string target = Path.GetFullPath(directory);
        if (options.Overwrite) CheckOnlyAnExport(target);

        using var scope = NewDisposeScope();
        var tensors = Gather(drafter, specs, embedding, options.DType);
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["tlt_drafter"] = "eagle",
            ["tlt_layout"] = options.Layout.ToString().ToLowerInvariant(),
            ["tlt_fc_input"] = "embedding,hidden",
        };
        string config = Layout.ConfigJson(targetConfig, options.Layout, options.DType);
        AtomicDirectory.Write(target, folder =>
        {
            SafeTensorsWriter.Save(Path.Combine(folder, Layout.WeightsFile), tensors, metadata);
            AtomicFile.WriteAllText(Path.Combine(folder, Layout.ConfigFile), config);
        }, options.Overwrite);
    }

    /// <summary>
    /// Reads an EAGLE checkpoint folder (as written by <see cref="Export"/>, in either layout, or an EAGLE-1/2 Llama
    /// checkpoint of the same shape with zero or absent fc bias) into a new float32 CPU drafter for
    /// <paramref name="targetConfig"/>. The caller owns the result.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException"><c>config.json</c> or <c>model.safetensors</c> is missing.</exception>
    /// <exception cref="InvalidDataException">
    /// The config does not match the target (the message names the field and both values), or a tensor is missing,
    /// unexpected, of the wrong shape or dtype, or a bias our drafter lacks is not zero (the message names the tensor).
    /// </exception>
    public static EagleDraftModel Import(string directory, TransformerConfig targetConfig)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(targetConfig);
        targetConfig.Validate("targetConfig");
        string folder = Path.GetFullPath(directory);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"EAGLE checkpoint folder not found: {folder}");
        string configPath = Path.Combine(folder, Layout.ConfigFile), weightsPath = Path.Combine(folder, Layout.WeightsFile);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{folder}: the EAGLE checkpoint has no {Layout.ConfigFile}.", configPath);
        if (!File.Exists(weightsPath))
        {
            string hint = File.Exists(Path.Combine(folder, "pytorch_model.bin")) ? " (pytorch_model.bin is not read: convert it to safetensors)"
                : File.Exists(Path.Combine(folder, "model.safetensors.index.json")) ? " (sharded checkpoints are not read: a one-layer drafter fits one file)" : "";
            throw new FileNotFoundException($"{folder}: the EAGLE checkpoint has no {Layout.WeightsFile}{hint}.", weightsPath);
        }
        CheckConfig(TransformerConfig.Load(configPath), targetConfig, configPath);
        var specs = Layout.Accepted(targetConfig);
        CheckHeader(SafeTensorsReader.ReadHeader(weightsPath), specs, weightsPath);

        var weights = SafeTensorsReader.Load(weightsPath, name => name != Layout.EmbeddingName);
        try
        {
            foreach (var spec in specs.Where(s => s.Source == EagleTensorSource.ZeroBias && weights.ContainsKey(s.Name)))
                CheckZero(weights[spec.Name], spec.Name, weightsPath);
            var own = specs.Where(s => s.Source == EagleTensorSource.Drafter).ToDictionary(s => s.Name, s => weights[s.Name]);
            return EagleDraftModel.FromWeights(targetConfig, own, weightsPath);
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }
    }

    private static Dictionary<string, Tensor> Gather(EagleDraftModel drafter, IReadOnlyList<EagleTensorSpec> specs, Tensor? embedding, ScalarType dtype)
    {
        // Runs inside the caller's scope: every tensor made here dies with it after the write.
        using var noGrad = no_grad();
        var state = drafter.state_dict();
        var placed = specs.Where(s => s.Source == EagleTensorSource.Drafter).Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var unplaced = state.Keys.Where(k => !placed.Contains(k)).ToList();
        if (unplaced.Count > 0)
            throw new InvalidOperationException($"drafter tensor(s) '{string.Join("', '", unplaced)}' have no place in the EAGLE checkpoint layout.");
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var spec in specs)
        {
            Tensor value = spec.Source switch
            {
                EagleTensorSource.Drafter => state.TryGetValue(spec.Name, out var p) ? p : throw new InvalidOperationException($"drafter has no tensor '{spec.Name}'."),
                EagleTensorSource.Embedding => embedding!,
                _ => zeros(spec.Shape, dtype),
            };
            if (!value.shape.SequenceEqual(spec.Shape))
                throw new ArgumentException($"drafter tensor '{spec.Name}' has shape {Shape(value.shape)}, expected {Shape(spec.Shape)}.");
            tensors[spec.Name] = value.detach().to(CPU).to(dtype).contiguous();
        }
        return tensors;
    }

    private static void CheckDrafterFits(TransformerConfig drafter, TransformerConfig target)
    {
        // Export also refuses a bias mismatch: the written layout depends on it.
        var mismatch = SharedFields(drafter, target).Concat(new (string Field, object Mine, object Theirs)[] { ("attention bias", drafter.HasQkvBias, target.HasQkvBias) })
            .FirstOrDefault(m => !Equals(m.Mine, m.Theirs));
        if (mismatch.Field is not null)
            throw new ArgumentException($"drafter {mismatch.Field} = {Format(mismatch.Mine)} does not match the target's {Format(mismatch.Theirs)}.");
    }

    private static void CheckConfig(TransformerConfig config, TransformerConfig target, string path)
    {
        if (config.NumLayers != 1)
            throw new InvalidDataException($"{path}: num_hidden_layers = {config.NumLayers}, expected 1 (an EAGLE-1/2 drafter has one decoder layer).");
        var mismatch = SharedFields(config, target).FirstOrDefault(m => !Equals(m.Mine, m.Theirs));
        if (mismatch.Field is not null)
            throw new InvalidDataException($"{path}: {mismatch.Field} = {Format(mismatch.Mine)} does not match the target's {Format(mismatch.Theirs)}.");
    }

    /// <summary>The config fields a drafter must share with its target (HF names), drafter value beside target value.</summary>
    private static IEnumerable<(string Field, object Mine, object Theirs)> SharedFields(TransformerConfig mine, TransformerConfig target)
    {
        yield return ("vocab_size", mine.VocabSize, target.VocabSize);
        yield return ("hidden_size", mine.HiddenSize, target.HiddenSize);
        yield return ("intermediate_size", mine.IntermediateSize, target.IntermediateSize);
        yield return ("num_attention_heads", mine.NumHeads, target.NumHeads);
        yield return ("num_key_value_heads", mine.NumKvHeads, target.NumKvHeads);
        yield return ("head_dim", mine.HeadDim, target.HeadDim);
        yield return ("rms_norm_eps", mine.RmsNormEps, target.RmsNormEps);
        yield return ("rope_theta", mine.RopeTheta, target.RopeTheta);
    }

    private static void CheckHeader(SafeTensorsHeader header, IReadOnlyList<EagleTensorSpec> specs, string path)
    {
        var byName = specs.ToDictionary(s => s.Name, StringComparer.Ordinal);
        foreach (var info in header.Tensors.Values.OrderBy(i => i.Name, StringComparer.Ordinal))
        {
            if (!byName.TryGetValue(info.Name, out var spec))
                throw new InvalidDataException($"{path}: unexpected tensor '{info.Name}' {Shape(info.Shape)}; an EAGLE-1/2 Llama drafter for this target has: {string.Join(", ", specs.Select(s => s.Name))}.");
            if (info.DType is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
                throw new InvalidDataException($"{path}: tensor '{info.Name}' has dtype {info.DType}, expected Float32, BFloat16 or Float16.");
            if (!info.Shape.SequenceEqual(spec.Shape))
                throw new InvalidDataException($"{path}: tensor '{info.Name}' has shape {Shape(info.Shape)}, expected {Shape(spec.Shape)} for this target.");
        }
        var missing = specs.Where(s => s.Source == EagleTensorSource.Drafter && !header.Tensors.ContainsKey(s.Name)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"{path}: missing tensor(s) {string.Join(", ", missing.Select(s => $"'{s.Name}' {Shape(s.Shape)}"))}.");
    }

    private static void CheckZero(Tensor bias, string name, string path)
    {
        using var scope = NewDisposeScope();
        double max = bias.abs().max().to(ScalarType.Float64).item<double>();
        if (max != 0)
            throw new InvalidDataException($"{path}: tensor '{name}' is not zero (max |value| = {max.ToString("G4", CultureInfo.InvariantCulture)}); this drafter has no such bias, so the checkpoint cannot be imported exactly.");
    }

    /// <summary>Refuses to replace a folder that holds anything an export would not have written.</summary>
    private static void CheckOnlyAnExport(string folder)
    {
        if (!Directory.Exists(folder)) return;
        foreach (string entry in Directory.EnumerateFileSystemEntries(folder))
        {
            string name = Path.GetFileName(entry);
            if (!Layout.Files.Contains(name) || Directory.Exists(entry))
                throw new IOException($"'{folder}' holds '{name}', which an EAGLE export does not write; refusing to replace the folder even with Overwrite.");
        }
    }

    private static string Shape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    private static string Format(object value) => value is double d ? d.ToString("R", CultureInfo.InvariantCulture) : value.ToString() ?? "null";
}
