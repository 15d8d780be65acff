// Entry points that turn tokenizer files into an ITextTokenizer.
// Design: every loader funnels into one of two adapters (BpeTextTokenizer for BPE vocabularies,
// LibraryTextTokenizer for SentencePiece and tiktoken), so behaviour such as explicit BOS/EOS and
// special-token lookup is the same whatever the file format. Files are read once, eagerly; every error
// names the file (missing: FileNotFoundException, malformed: InvalidDataException, unmappable:
// NotSupportedException).
using static TltTrainer.Tokenization.TokenizerFiles;

namespace TltTrainer.Tokenization;

/// <summary>Loads tokenizers from HuggingFace, SentencePiece and tiktoken files.</summary>
public static class TokenizerLoader
{
    private const string TokenizerJson = "tokenizer.json";
    private const string VocabJson = "vocab.json";
    private const string MergesTxt = "merges.txt";
    private const string SentencePieceModel = "tokenizer.model";

    /// <summary>Loads a byte-level BPE tokenizer (GPT-2, Qwen2 and similar) from <c>vocab.json</c> and <c>merges.txt</c>.</summary>
    /// <param name="vocabJsonPath">JSON object of token string to id.</param>
    /// <param name="mergesTxtPath">One merge "left right" per line, highest priority first; a leading <c>#version</c> line is skipped.</param>
    /// <param name="flavor">Word-splitting pattern. Default <see cref="TokenizerFlavor.Gpt2"/>; use <see cref="TokenizerFlavor.Qwen2"/> for Qwen vocabularies.</param>
    /// <param name="options">Special tokens and encode defaults. Default: none and <see cref="EncodeOptions.Default"/>.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="InvalidDataException">A file is malformed, or the merges refer to tokens missing from the vocabulary.</exception>
    public static ITextTokenizer FromVocabAndMerges(
        string vocabJsonPath, string mergesTxtPath, TokenizerFlavor flavor = TokenizerFlavor.Gpt2, TokenizerLoadOptions? options = null) =>
        FromVocabAndMerges(vocabJsonPath, mergesTxtPath, flavor, options ?? new TokenizerLoadOptions(), TokenizerConfig.Empty);

    /// <summary>Loads a HuggingFace <c>tokenizer.json</c> whose model is BPE.</summary>
    /// <param name="tokenizerJsonPath">Path of the <c>tokenizer.json</c> file.</param>
    /// <param name="options">Special-token names and encode defaults. Without names, BOS/EOS come from the post-processor template.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is malformed.</exception>
    /// <exception cref="NotSupportedException">The model is not BPE, or a normalizer, pre-tokenizer or decoder cannot be reproduced; the message names the component.</exception>
    public static ITextTokenizer FromTokenizerJson(string tokenizerJsonPath, TokenizerLoadOptions? options = null) =>
        FromTokenizerJson(tokenizerJsonPath, options ?? new TokenizerLoadOptions(), TokenizerConfig.Empty);

    /// <summary>Loads a SentencePiece BPE model (<c>tokenizer.model</c> of Llama 2, Mistral and similar).</summary>
    /// <param name="modelPath">Path of the serialized SentencePiece model.</param>
    /// <param name="options">Special tokens and encode defaults; BOS/EOS default to the model's own.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a SentencePiece BPE model.</exception>
    public static ITextTokenizer FromSentencePieceModel(string modelPath, TokenizerLoadOptions? options = null) =>
        SentencePieceLoader.Load(RequireFile(modelPath, "SentencePiece model"), options ?? new TokenizerLoadOptions(), TokenizerConfig.Empty);

    /// <summary>Loads a tiktoken vocabulary from a user-supplied <c>.tiktoken</c> file (lines of base64 token and rank).</summary>
    /// <param name="tiktokenPath">Path of the <c>.tiktoken</c> file; nothing is downloaded.</param>
    /// <param name="flavor">Word-splitting pattern of the encoding, e.g. <see cref="TokenizerFlavor.Cl100kBase"/>.</param>
    /// <param name="options">Special tokens (a <c>.tiktoken</c> file lists none; pass e.g. <c>&lt;|endoftext|&gt;</c> here), names and encode defaults.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">A line is not "base64 rank".</exception>
    public static ITextTokenizer FromTiktoken(string tiktokenPath, TokenizerFlavor flavor, TokenizerLoadOptions? options = null) =>
        TiktokenLoader.Load(RequireFile(tiktokenPath, "tiktoken file"), flavor, options ?? new TokenizerLoadOptions());

    /// <summary>
    /// Loads the tokenizer of a model folder: <c>tokenizer.json</c> if present, else <c>vocab.json</c> + <c>merges.txt</c>
    /// (Qwen2 flavour when <c>tokenizer_config.json</c> names a Qwen tokenizer class, GPT-2 otherwise), else <c>tokenizer.model</c>.
    /// BOS, EOS and pad come from <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c> when present.
    /// </summary>
    /// <param name="directory">The model folder.</param>
    /// <param name="options">Overrides for what the folder's files say.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The folder holds none of the tokenizer files; the message names the folder and the files looked for.</exception>
    /// <exception cref="InvalidDataException">A file is malformed.</exception>
    /// <exception cref="NotSupportedException">A file describes a tokenizer that cannot be reproduced.</exception>
    public static ITextTokenizer FromDirectory(string directory, TokenizerLoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        string full = Path.GetFullPath(directory);
        if (!Directory.Exists(full))
        {
            throw new DirectoryNotFoundException($"Tokenizer folder '{full}' does not exist.");
        }

        options ??= new TokenizerLoadOptions();
        var config = TokenizerConfigReader.Read(full);
        string In(string name) => Path.Combine(full, name);

        if (File.Exists(In(TokenizerJson)))
        {
            return FromTokenizerJson(In(TokenizerJson), options, config);
        }

        if (File.Exists(In(VocabJson)) && File.Exists(In(MergesTxt)))
        {
            var flavor = config.TokenizerClass?.Contains("Qwen", StringComparison.OrdinalIgnoreCase) == true ? TokenizerFlavor.Qwen2 : TokenizerFlavor.Gpt2;
            return FromVocabAndMerges(In(VocabJson), In(MergesTxt), flavor, options, config);
        }

        if (File.Exists(In(SentencePieceModel)))
        {
            return SentencePieceLoader.Load(In(SentencePieceModel), options, config);
        }

        throw new FileNotFoundException(
            $"No tokenizer files in '{full}': looked for {TokenizerJson}, {VocabJson} + {MergesTxt}, and {SentencePieceModel}.");
    }

    private static ITextTokenizer FromTokenizerJson(string path, TokenizerLoadOptions options, TokenizerConfig config)
    {
        var spec = TokenizerJsonReader.Read(RequireFile(path, "Tokenizer file"));
        spec = spec with { AddedTokens = MergeAddedTokens(spec.AddedTokens, config.AddedTokens, options) };
        var fromTemplate = new SpecialTokenNames(spec.TemplateBos, spec.TemplateEos, null);
        var names = new SpecialTokenNames(config.Names.Bos ?? fromTemplate.Bos, config.Names.Eos ?? fromTemplate.Eos, config.Names.Pad);
        return new BpeTextTokenizer(spec, names.OverriddenBy(options), options.EncodeDefaults);
    }

    private static ITextTokenizer FromVocabAndMerges(
        string vocabJsonPath, string mergesTxtPath, TokenizerFlavor flavor, TokenizerLoadOptions options, TokenizerConfig config)
    {
        string vocabPath = RequireFile(vocabJsonPath, "Vocabulary file");
        string mergesPath = RequireFile(mergesTxtPath, "Merges file");
        using var vocabDocument = ParseJson(vocabPath);
        if (vocabDocument.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object)
        {
            throw new InvalidDataException($"'{vocabPath}': the vocabulary must be a JSON object of token to id.");
        }

        var spec = new BpeSpec
        {
            SourcePath = $"{vocabPath}' + '{mergesPath}",
            Vocabulary = ReadVocabulary(vocabDocument.RootElement, vocabPath),
            Merges = ReadMergesFile(mergesPath),
            AddedTokens = MergeAddedTokens([], config.AddedTokens, options),
            ByteLevel = true,
            WordPattern = PreTokenizerPatterns.Create(flavor),
            Decoder = new TokenDecoderSpec(ByteLevel: true, ByteFallback: false, Replacements: [], StripLeadingSpaces: 0),
        };
        return new BpeTextTokenizer(spec, config.Names.OverriddenBy(options), options.EncodeDefaults);
    }

    private static List<string> ReadMergesFile(string path)
    {
        var merges = new List<string>();
        int lineNumber = 0;
        foreach (string raw in File.ReadLines(path))
        {
            lineNumber++;
            string line = raw.TrimEnd('\r');
            if (line.Length == 0 || (lineNumber == 1 && line.StartsWith("#version", StringComparison.Ordinal)))
            {
                continue;
            }

            int space = line.IndexOf(' ');
            if (space <= 0 || space == line.Length - 1 || line.IndexOf(' ', space + 1) >= 0)
            {
                throw new InvalidDataException($"'{path}' line {lineNumber}: '{line}' is not two tokens separated by one space.");
            }

            merges.Add(line);
        }

        return merges;
    }

    /// <summary>The file's added tokens, plus config tokens the file lacks; the caller's special tokens override both.</summary>
    internal static IReadOnlyList<AddedToken> MergeAddedTokens(
        IEnumerable<AddedToken> fromFile, IEnumerable<AddedToken> fromConfig, TokenizerLoadOptions options)
    {
        var byContent = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        foreach (var token in fromFile.Concat(fromConfig.Where(t => !fromFile.Any(f => f.Content == t.Content))))
        {
            byContent[token.Content] = token;
        }

        foreach (var (content, id) in options.SpecialTokens ?? new Dictionary<string, int>())
        {
            byContent[content] = new AddedToken(content, id, Special: true, Normalized: false);
        }

        return [.. byContent.Values];
    }
}
