// The EAGLE-style drafter network: the input at position t is FC([embed(x_{t+1}); h_t]) (2H → H, no
// bias), then one decoder layer without input norm and without final norm; its output predicts the
// target's next hidden state h_{t+1}, and logits come from the target's own lm_head. Embedding and head
// are the target's (shared, frozen, so they follow the policy after every update); only fc and the
// layer are this module's parameters. The same Forward serves training and drafting: one definition.
using TltTrainer.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TltTrainer.Speculative;

/// <summary>The trainable part of the EAGLE drafter: <c>fc</c> and one decoder layer (<c>layers.0</c>).</summary>
public sealed class EagleDraftModel : nn.Module
{
    private readonly Linear fc;
    private readonly ModuleList<DecoderLayer> layers;
    private readonly RotaryEmbedding _rope;

    /// <summary>Creates a drafter for a target of shape <paramref name="targetConfig"/> (same width, heads and MLP).</summary>
    public EagleDraftModel(TransformerConfig targetConfig, long? seed = null) : base(nameof(EagleDraftModel))
    {
        Config = targetConfig with { NumLayers = 1 };
        fc = nn.Linear(2L * Config.HiddenSize, Config.HiddenSize, hasBias: false);
        layers = nn.ModuleList(new DecoderLayer(Config, 0, inputNorm: false));
        _rope = new RotaryEmbedding(Config.HeadDim, Config.MaxPositions, Config.RopeTheta);
        RegisterComponents();
        using var noGrad = no_grad();
        using var generator = seed is null ? null : new Generator((ulong)seed.Value);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("layernorm.weight", StringComparison.Ordinal)) p.fill_(1.0);
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            else p.normal_(0.0, 0.02, generator);
        }
    }

    /// <summary>Shape of the drafter's layer (the target's, with one layer); also the shape of its KV cache.</summary>
    public TransformerConfig Config { get; }

    /// <summary>
    /// Predicts next hidden states <c>[B, T, H]</c> from next-token embeddings <c>[B, T, H]</c> and target (or drafted) hidden
    /// states <c>[B, T, H]</c>; cache, positions and mask as in <see cref="CausalLM.Forward"/>.
    /// </summary>
    public Tensor Forward(Tensor nextTokenEmbeddings, Tensor hidden, KvCache? cache = null, int rowOffset = 0,
        Tensor? positions = null, Tensor? newTokenMask = null)
    {
        using var scope = NewDisposeScope();
        int B = (int)hidden.shape[0], T = (int)hidden.shape[1];
        var dtype = fc.weight!.dtype;
        var ctx = AttentionContext.Create(Config, _rope, B, T, hidden.device, dtype, cache, rowOffset, positions, newTokenMask);
        var x = fc.forward(cat(new[] { nextTokenEmbeddings.to(dtype), hidden.to(dtype) }, -1));
        var output = layers[0].Forward(x, ctx);
        cache?.Advance(rowOffset, B, T);
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>Saves the drafter's own weights (<c>fc.weight</c>, <c>layers.0.*</c>) as safetensors, atomically.</summary>
    public void Save(string path)
    {
        using var scope = NewDisposeScope();
        var tensors = state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().to(CPU));
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["tlt_drafter"] = "eagle", ["hidden_size"] = Config.HiddenSize.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        Models.SafeTensors.SafeTensorsWriter.Save(path, tensors, metadata);
    }

    /// <summary>Loads drafter weights saved by <see cref="Save"/> for a target of shape <paramref name="targetConfig"/>.</summary>
    /// <exception cref="InvalidDataException">Keys or shapes do not match a drafter for that target; the message names the file and tensor.</exception>
    public static EagleDraftModel Load(string path, TransformerConfig targetConfig)
    {
        var weights = Models.SafeTensors.SafeTensorsReader.Load(path);
        try { return FromWeights(targetConfig, weights, path); }
        finally { foreach (var t in weights.Values) t.Dispose(); }
    }

    /// <summary>A new drafter for <paramref name="targetConfig"/> holding copies of <paramref name="weights"/> (the caller keeps them).</summary>
    internal static EagleDraftModel FromWeights(TransformerConfig targetConfig, IReadOnlyDictionary<string, Tensor> weights, string source)
    {
        var model = new EagleDraftModel(targetConfig);
        try
        {
            model.CopyFrom(weights, source);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Copies weights by name into this drafter (used for loading and for publishing snapshots).</summary>
    /// <exception cref="InvalidDataException">A key is missing or unexpected, or a shape differs.</exception>
    public void CopyFrom(IReadOnlyDictionary<string, Tensor> weights, string source)
    {
        var expected = state_dict();
        var missing = expected.Keys.Where(k => !weights.ContainsKey(k)).ToList();
        if (missing.Count > 0) throw new InvalidDataException($"{source}: drafter tensor(s) missing: '{string.Join("', '", missing.Take(5))}'.");
        var unexpected = weights.Keys.Where(k => !expected.ContainsKey(k)).ToList();
        if (unexpected.Count > 0) throw new InvalidDataException($"{source}: unexpected drafter tensor(s): '{string.Join("', '", unexpected.Take(5))}'.");
        using var noGrad = no_grad();
        foreach (var (name, target) in expected)
        {
            var value = weights[name];
            if (!value.shape.SequenceEqual(target.shape))
                throw new InvalidDataException($"{source}: drafter tensor '{name}' has shape [{string.Join(", ", value.shape)}], expected [{string.Join(", ", target.shape)}].");
            using var converted = value.to(target.dtype, target.device);
            target.copy_(converted);
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) _rope.Dispose();
        base.Dispose(disposing);
    }
}
