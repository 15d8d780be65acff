// Prompt data for RL: JSONL files of {"prompt": ..., "answer": ...} (errors name file and line), a
// deterministic sampler that shuffles each epoch from a seed and exposes its position for checkpoints,
// a prompt template, and the policy for prompts longer than the context.
using System.Text.Json;
using TltTrainer.Sampling;

namespace TltTrainer.Rl;

/// <summary>One RL prompt and its reference answer.</summary>
/// <param name="Prompt">Prompt text.</param>
/// <param name="Answer">Reference answer, if any.</param>
public sealed record PromptExample(string Prompt, string? Answer);

/// <summary>Reads prompt files.</summary>
public static class JsonlPromptReader
{
    /// <summary>Reads one JSON object per line with a non-empty string <c>prompt</c> and an optional string or number <c>answer</c>; blank lines are skipped.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">A line is not valid; the message names file and line.</exception>
    public static IReadOnlyList<PromptExample> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Prompt file not found: {path}", path);
        var examples = new List<PromptExample>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonElement root;
            try { root = JsonDocument.Parse(line).RootElement; }
            catch (JsonException e) { throw new InvalidDataException($"{path}:{lineNumber}: invalid JSON: {e.Message}", e); }
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}:{lineNumber}: expected a JSON object.");
            if (!root.TryGetProperty("prompt", out var prompt) || prompt.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{path}:{lineNumber}: \"prompt\" must be a string.");
            if (string.IsNullOrWhiteSpace(prompt.GetString()))
                throw new InvalidDataException($"{path}:{lineNumber}: \"prompt\" is empty (the model would answer nothing but its start token).");
            string? answer = null;
            if (root.TryGetProperty("answer", out var a))
            {
                answer = a.ValueKind switch
                {
                    JsonValueKind.String => a.GetString(),
                    JsonValueKind.Number => a.GetRawText(),
                    JsonValueKind.Null => null,
                    _ => throw new InvalidDataException($"{path}:{lineNumber}: \"answer\" must be a string or a number."),
                };
            }
            examples.Add(new PromptExample(prompt.GetString()!, answer));
        }
        if (examples.Count == 0) throw new InvalidDataException($"{path}: no prompts.");
        return examples;
    }
}

/// <summary>Position of a <see cref="PromptSampler"/> (saved in checkpoints).</summary>
/// <param name="Seed">Shuffle seed.</param>
/// <param name="Epoch">Current epoch.</param>
/// <param name="Index">Next index within the epoch's order.</param>
public sealed record SamplerState(ulong Seed, int Epoch, int Index);

/// <summary>Draws prompts without replacement, reshuffling each epoch deterministically from the seed.</summary>
public sealed class PromptSampler
{
    private readonly IReadOnlyList<PromptExample> _examples;
    private int[] _order;

    /// <summary>Creates a sampler at <paramref name="state"/> (default: epoch 0, index 0).</summary>
    public PromptSampler(IReadOnlyList<PromptExample> examples, ulong seed, SamplerState? state = null)
    {
        if (examples.Count == 0) throw new ArgumentException("no prompts.", nameof(examples));
        _examples = examples;
        State = state ?? new SamplerState(seed, 0, 0);
        _order = Order(State.Epoch);
    }

    /// <summary>Current position.</summary>
    public SamplerState State { get; private set; }

    /// <summary>The prompts drawn from.</summary>
    public IReadOnlyList<PromptExample> Examples => _examples;

    /// <summary>Moves the sampler to a saved position (resume).</summary>
    public void Restore(SamplerState state)
    {
        State = state;
        _order = Order(state.Epoch);
    }

    /// <summary>The next <paramref name="count"/> prompts.</summary>
    public IReadOnlyList<PromptExample> Next(int count)
    {
        var batch = new List<PromptExample>(count);
        while (batch.Count < count)
        {
            if (State.Index >= _order.Length)
            {
                State = State with { Epoch = State.Epoch + 1, Index = 0 };
                _order = Order(State.Epoch);
            }
            batch.Add(_examples[_order[State.Index]]);
            State = State with { Index = State.Index + 1 };
        }
        return batch;
    }

    private int[] Order(int epoch)
    {
        var rng = new RequestRng(State.Seed * 1_000_003UL + (ulong)epoch);
        var order = Enumerable.Range(0, _examples.Count).ToArray();
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = (int)(rng.NextUInt64() % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}

/// <summary>A prompt template with a <c>{prompt}</c> placeholder (e.g. a chat format).</summary>
public sealed record PromptTemplate
{
    /// <summary>Creates a template; it must contain <c>{prompt}</c> exactly once.</summary>
    public PromptTemplate(string format)
    {
        int first = format.IndexOf("{prompt}", StringComparison.Ordinal);
        if (first < 0 || format.IndexOf("{prompt}", first + 1, StringComparison.Ordinal) >= 0)
            throw new ArgumentException($"template must contain {{prompt}} exactly once: \"{format}\".", nameof(format));
        Format = format;
    }

    /// <summary>The format.</summary>
    public string Format { get; }

    /// <summary>The prompt as is.</summary>
    public static PromptTemplate Identity { get; } = new("{prompt}");

    /// <summary>Applies the template.</summary>
    public string Apply(string prompt) => Format.Replace("{prompt}", prompt, StringComparison.Ordinal);
}

/// <summary>What to do with a prompt longer than allowed.</summary>
public enum OverlongPromptPolicy
{
    /// <summary>Fail with an error naming the prompt and the lengths.</summary>
    Reject,

    /// <summary>Keep the last tokens (drop from the left).</summary>
    TruncateLeft,
}

/// <summary>Applies an <see cref="OverlongPromptPolicy"/>.</summary>
public static class PromptLength
{
    /// <summary>Returns <paramref name="tokens"/> within <paramref name="maxTokens"/> according to <paramref name="policy"/>.</summary>
    /// <exception cref="ArgumentException">Too long under <see cref="OverlongPromptPolicy.Reject"/>.</exception>
    public static IReadOnlyList<int> Apply(IReadOnlyList<int> tokens, int maxTokens, OverlongPromptPolicy policy, string prompt)
    {
        if (tokens.Count <= maxTokens) return tokens;
        if (policy == OverlongPromptPolicy.TruncateLeft) return tokens.Skip(tokens.Count - maxTokens).ToArray();
        string excerpt = prompt.Length <= 60 ? prompt : prompt[..57] + "...";
        throw new ArgumentException($"prompt \"{excerpt}\" has {tokens.Count} tokens, more than the {maxTokens} allowed "
            + "(context minus response budget); shorten it or use OverlongPromptPolicy.TruncateLeft.");
    }
}
