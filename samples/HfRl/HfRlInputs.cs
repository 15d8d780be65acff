// The inputs of an HfRl run, checked before anything is trained so that a bad folder or file fails at
// once with the file (and line) named: the model folder's files, the tokenizer against the model's
// vocabulary, the prompt file (the math reward needs an answer on every line), and every prompt's
// length against the context. The library checks these too, but only mid-run (the first overlong
// prompt when it is drawn, a missing answer when it is scored).
using TltTrainer.Models;
using TltTrainer.Models.SafeTensors;
using TltTrainer.Rl;
using TltTrainer.Tokenization;

namespace HfRl;

/// <summary>Loads and checks the model folder and the prompt file.</summary>
internal static class HfRlInputs
{
    /// <summary>Throws naming the folder and every missing file.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">config.json, the weights or the tokenizer files are missing.</exception>
    public static void CheckModelFolder(string directory)
    {
        string full = Path.GetFullPath(directory);
        if (!Directory.Exists(full)) throw new DirectoryNotFoundException($"--model: folder '{full}' does not exist.");
        bool Has(string name) => File.Exists(Path.Combine(full, name));
        var missing = new List<string>();
        if (!Has("config.json")) missing.Add("config.json");
        if (!Has(SafeTensorsCheckpoint.SingleFileName) && !Has(SafeTensorsCheckpoint.IndexFileName))
            missing.Add($"the weights ({SafeTensorsCheckpoint.SingleFileName}, or {SafeTensorsCheckpoint.IndexFileName} with its shards)");
        if (!Has("tokenizer.json") && !(Has("vocab.json") && Has("merges.txt")) && !Has("tokenizer.model"))
            missing.Add("the tokenizer (tokenizer.json, vocab.json + merges.txt, or tokenizer.model)");
        if (missing.Count > 0) throw new FileNotFoundException($"--model: folder '{full}' is missing {string.Join("; ", missing)}.");
    }

    /// <summary>The folder's tokenizer, prepending BOS when <paramref name="addBos"/> says so (null: when it has a BOS distinct from its EOS).</summary>
    public static ITextTokenizer LoadTokenizer(string directory, bool? addBos)
    {
        var tokenizer = TokenizerLoader.FromDirectory(directory);
        bool bos = addBos ?? (tokenizer.BosId is { } id && id != tokenizer.EosId);
        if (!bos) return tokenizer;
        if (tokenizer.BosId is null) throw new ArgumentException($"--bos on: the tokenizer in '{directory}' has no BOS token.");
        return TokenizerLoader.FromDirectory(directory, new TokenizerLoadOptions { EncodeDefaults = new EncodeOptions { AddBos = true } });
    }

    /// <summary>Ids past the embedding would fail mid-run, so a larger tokenizer is refused here.</summary>
    /// <exception cref="ArgumentException">The tokenizer has more tokens than the model's vocabulary.</exception>
    public static void CheckVocabulary(ITextTokenizer tokenizer, TransformerConfig config, string directory)
    {
        if (tokenizer.VocabularySize > config.VocabSize)
            throw new ArgumentException($"--model: the tokenizer in '{directory}' has {tokenizer.VocabularySize} tokens but config.json's vocab_size is "
                + $"{config.VocabSize}: the tokenizer does not belong to this model.");
    }

    /// <summary>A checkpoint with NaN or infinite weights would only show as a diverged first step, so it is refused here.</summary>
    /// <exception cref="InvalidDataException">A weight is not finite; names the folder and the tensor.</exception>
    public static void CheckWeightsFinite(TltTrainer.Models.CausalLM policy, string directory)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        foreach (var (name, p) in policy.named_parameters())
            if (!p.isfinite().all().item<bool>())
                throw new InvalidDataException($"--model: '{Path.GetFullPath(directory)}': tensor {name} holds NaN or infinite values.");
    }

    /// <summary>Reads a prompt file (--prompts, or the held-out --eval); every line needs an answer (the math reward compares against it).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist; the message names the flag and the file.</exception>
    /// <exception cref="InvalidDataException">A line is malformed or has no answer; the message names file and line.</exception>
    public static IReadOnlyList<PromptExample> ReadPrompts(string path, string flag = "--prompts")
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{flag}: file '{Path.GetFullPath(path)}' does not exist.", path);
        var examples = JsonlPromptReader.Read(path);
        var lines = LineNumbers(path);
        for (int i = 0; i < examples.Count; i++)
            if (examples[i].Answer is null)
                throw new InvalidDataException($"{path}:{lines[i]}: no \"answer\"; the math reward needs a reference answer on every line.");
        return examples;
    }

    /// <summary>
    /// The context (prompt + response) to give each sequence: <paramref name="requested"/>, or when 0 the longest
    /// prompt plus <paramref name="maxNewTokens"/>, at most the model's maximum. Checks every prompt against it.
    /// </summary>
    /// <exception cref="ArgumentException">A prompt is empty, or too long under <see cref="OverlongPromptPolicy.Reject"/>; names file and line.</exception>
    public static int CheckLengths(IReadOnlyList<PromptExample> examples, ITextTokenizer tokenizer, PromptTemplate template, string path,
        int requested, int maxNewTokens, int modelMaximum, OverlongPromptPolicy policy)
    {
        var lines = LineNumbers(path);
        var ids = examples.Select(e => tokenizer.Encode(template.Apply(e.Prompt))).ToList();
        for (int i = 0; i < ids.Count; i++)
            if (ids[i].Count == 0) throw new ArgumentException($"{path}:{lines[i]}: the prompt encodes to no tokens.");
        if (requested > modelMaximum)
            throw new ArgumentException($"--context = {requested} exceeds the model's max_position_embeddings ({modelMaximum}).");
        int context = requested > 0 ? requested : Math.Min(modelMaximum, ids.Max(p => p.Count) + maxNewTokens);
        int maxPrompt = context - maxNewTokens;
        if (maxPrompt < 1)
            throw new ArgumentException($"--max-new-tokens = {maxNewTokens} leaves no room for a prompt in the model's context of {context} tokens.");
        for (int i = 0; i < ids.Count; i++)
        {
            try { PromptLength.Apply(ids[i], maxPrompt, policy, examples[i].Prompt); }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"{path}:{lines[i]}: {e.Message} The context is {context} tokens (--context, else the model's maximum); "
                    + "raise it, lower --max-new-tokens, or pass --overlong truncate-left.", e);
            }
        }
        return context;
    }

    // Line number of each prompt: JsonlPromptReader skips blank lines.
    private static int[] LineNumbers(string path) =>
        File.ReadLines(path).Select((line, i) => (line, number: i + 1)).Where(x => !string.IsNullOrWhiteSpace(x.line)).Select(x => x.number).ToArray();
}
