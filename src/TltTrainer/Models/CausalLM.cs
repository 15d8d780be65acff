// The target model: a Llama/Qwen2-family decoder-only LM. Module fields carry HF names so that the
// state dict keys are exactly HF's (model.layers.0.self_attn.q_proj.weight, ...). One forward serves
// training (no cache, full causal or custom mask), prefill, decode and draft verification (cache,
// several tokens per row, optional tree mask). It returns the final hidden state (after the final
// norm: the input of lm_head, which is what the EAGLE drafter reads) and any requested intermediate
// layers' outputs, so that capturing hidden states never costs an extra forward.
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TltTrainer.Models;

/// <summary>A causal language model of the Llama/Qwen2 family.</summary>
public sealed class CausalLM : nn.Module
{
    private readonly Backbone model;
    private readonly Linear? lm_head;
    private readonly RotaryEmbedding _rope;

    /// <summary>Builds a model with freshly initialised weights (normal, std 0.02; norms at 1).</summary>
    /// <param name="config">The model shape; validated here.</param>
    /// <param name="seed">Seed for the initial weights, for reproducible tests.</param>
    public CausalLM(TransformerConfig config, long? seed = null) : base(nameof(CausalLM))
    {
        Config = config.Validate();
        model = new Backbone(config);
        if (!config.TieWordEmbeddings) lm_head = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        _rope = new RotaryEmbedding(config.HeadDim, config.MaxPositions, config.RopeTheta);
        RegisterComponents();
        InitialiseWeights(seed);
    }

    /// <summary>The model shape.</summary>
    public TransformerConfig Config { get; }

    /// <summary>The token-embedding matrix <c>[V, H]</c> (HF <c>model.embed_tokens.weight</c>).</summary>
    public Tensor EmbeddingWeight => model.embed_tokens.weight!;

    /// <summary>The output projection <c>[V, H]</c> (the embedding matrix when tied).</summary>
    public Tensor LmHeadWeight => lm_head?.weight ?? model.embed_tokens.weight!;

    /// <summary>Dtype of the weights.</summary>
    /// <remarks>Reading a parameter makes a new tensor handle; the scope frees it at once, so this is safe outside any scope.</remarks>
    public ScalarType DType
    {
        get
        {
            using var scope = NewDisposeScope();
            return model.embed_tokens.weight!.dtype;
        }
    }

    /// <summary>Device of the weights.</summary>
    public Device Device
    {
        get
        {
            using var scope = NewDisposeScope();
            return model.embed_tokens.weight!.device;
        }
    }

    /// <summary>Token embeddings <c>[B, T, H]</c> of ids <c>[B, T]</c>.</summary>
    public Tensor Embed(Tensor tokens) => model.embed_tokens.forward(tokens);

    /// <summary>Float32 logits <c>[..., V]</c> of hidden states <c>[..., H]</c>.</summary>
    public Tensor LmHead(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return nn.functional.linear(hidden, LmHeadWeight).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Runs the model on new tokens <c>[B, T]</c> (int64).
    /// Without a cache: a plain causal forward (training, scoring). With a cache: rows
    /// <c>[rowOffset, rowOffset + B)</c> attend to their cached prefix plus the new tokens, whose keys/values are
    /// written at slots <c>[length, length + T)</c>; each row's length then advances by T.
    /// </summary>
    /// <param name="tokens">New token ids <c>[B, T]</c>; rows of a ragged prefill are right-padded (set lengths back after).</param>
    /// <param name="cache">KV cache, or null.</param>
    /// <param name="rowOffset">First cache row this batch occupies.</param>
    /// <param name="positions">RoPE positions <c>[B, T]</c>; default cached length + index (tree drafts pass length + depth).</param>
    /// <param name="newTokenMask">Which of the last W key slots each new token may attend, <c>[B or 1, T, W]</c> bool with
    /// W ≥ T (the W − T most recently cached slots, then the T new ones; earlier slots are always visible); default causal over
    /// the new tokens. Draft trees pass the ancestor-or-self relation; packed training rows pass a block-diagonal causal mask.</param>
    /// <param name="options">Logits and hidden-state capture; default: logits for every position, no intermediate layers.</param>
    public CausalLMOutput Forward(Tensor tokens, KvCache? cache = null, int rowOffset = 0, Tensor? positions = null,
        Tensor? newTokenMask = null, ForwardOptions? options = null)
    {
        options ??= ForwardOptions.Default;
        if (tokens.dim() != 2) throw new ArgumentException($"tokens must be [B, T], got [{string.Join(", ", tokens.shape)}].", nameof(tokens));
        int B = (int)tokens.shape[0], T = (int)tokens.shape[1];
        if (cache is not null && rowOffset + B > cache.Rows)
            throw new ArgumentOutOfRangeException(nameof(rowOffset), $"rows [{rowOffset}, {rowOffset + B}) exceed the cache's {cache.Rows} rows.");

        var layerHidden = new Dictionary<int, Tensor>();
        Tensor hidden;
        using (var scope = NewDisposeScope())
        {
            var ctx = AttentionContext.Create(Config, _rope, B, T, Device, DType, cache, rowOffset, positions, newTokenMask);
            var x = model.embed_tokens.forward(tokens);
            for (int l = 0; l < Config.NumLayers; l++)
            {
                x = model.layers[l].Forward(x, ctx);
                if (options.CaptureLayers.Contains(l)) layerHidden[l] = x.MoveToOuterDisposeScope();
            }
            hidden = model.norm.forward(x).MoveToOuterDisposeScope();
        }
        cache?.Advance(rowOffset, B, T);
        var logits = options.ComputeLogits ? LmHead(hidden) : null;
        return new CausalLMOutput(hidden, logits, layerHidden);
    }

    private void InitialiseWeights(long? seed)
    {
        using var noGrad = no_grad();
        using var generator = seed is null ? null : new Generator((ulong)seed.Value);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("layernorm.weight", StringComparison.Ordinal) || name == "model.norm.weight") p.fill_(1.0);
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            else p.normal_(0.0, 0.02, generator);
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) _rope.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>The HF <c>model</c> sub-module: embeddings, layers, final norm.</summary>
    private sealed class Backbone : nn.Module
    {
        public readonly Embedding embed_tokens;
        public readonly ModuleList<DecoderLayer> layers;
        public readonly RmsNorm norm;

        public Backbone(TransformerConfig config) : base("model")
        {
            embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize);
            layers = nn.ModuleList(Enumerable.Range(0, config.NumLayers).Select(i => new DecoderLayer(config, i)).ToArray());
            norm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
            RegisterComponents();
        }
    }
}
