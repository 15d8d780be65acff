// The normalizer, pre-tokenizer and decoder sections of tokenizer.json. Supported:
//   normalizer:    Sequence, Prepend, Replace (string or regex), NFC/NFD/NFKC/NFKD, Lowercase
//   pre_tokenizer: none, ByteLevel, Split (Isolated, not inverted), Sequence of those with at most one regex
//   decoder:       none, ByteLevel, Sequence, Replace (string), ByteFallback, Fuse, Strip (leading spaces), Metaspace
// Everything else throws NotSupportedException naming the file and the component.
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using static TltTrainer.Tokenization.TokenizerFiles;

namespace TltTrainer.Tokenization;

internal static class TokenizerJsonComponents
{
    internal static TextNormalizer? ReadNormalizer(JsonElement? normalizer, string path)
    {
        if (normalizer is null)
        {
            return null;
        }

        var steps = new List<NormalizerStep>();
        AddNormalizerSteps(normalizer.Value, steps, path);
        return steps.Count == 0 ? null : new TextNormalizer(steps);
    }

    private static void AddNormalizerSteps(JsonElement n, List<NormalizerStep> steps, string path)
    {
        string type = TypeOf(n, "normalizer", path);
        switch (type)
        {
            case "Sequence":
                foreach (var inner in Required(n, "normalizers", JsonValueKind.Array, path, "Sequence normalizer").EnumerateArray())
                {
                    AddNormalizerSteps(inner, steps, path);
                }

                break;
            case "Prepend":
                steps.Add(new NormalizerStep(NormalizerStepKind.Prepend, OptionalString(n, "prepend", path, "Prepend normalizer") ?? ""));
                break;
            case "Replace":
                steps.Add(new NormalizerStep(
                    NormalizerStepKind.Replace, OptionalString(n, "content", path, "Replace normalizer") ?? "", ReadPattern(n, path, "Replace normalizer")));
                break;
            case "NFC" or "NFD" or "NFKC" or "NFKD":
                steps.Add(new NormalizerStep(NormalizerStepKind.UnicodeForm, Form: type switch
                {
                    "NFC" => NormalizationForm.FormC,
                    "NFD" => NormalizationForm.FormD,
                    "NFKC" => NormalizationForm.FormKC,
                    _ => NormalizationForm.FormKD,
                }));
                break;
            case "Lowercase":
                steps.Add(new NormalizerStep(NormalizerStepKind.Lowercase));
                break;
            default:
                throw Unsupported(path, "normalizer", type, "Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase");
        }
    }

    /// <summary>The word regex (null: whole runs), whether text is byte-level, and byte-level add_prefix_space.</summary>
    internal static (Regex? Pattern, bool ByteLevel, bool AddPrefixSpace) ReadPreTokenizer(JsonElement? preTokenizer, string path)
    {
        Regex? pattern = null;
        bool byteLevel = false;
        bool addPrefixSpace = false;
        if (preTokenizer is { } p)
        {
            Visit(p);
        }

        return (pattern, byteLevel, addPrefixSpace);

        void Visit(JsonElement element)
        {
            string type = TypeOf(element, "pre_tokenizer", path);
            switch (type)
            {
                case "Sequence":
                    foreach (var inner in Required(element, "pretokenizers", JsonValueKind.Array, path, "Sequence pre_tokenizer").EnumerateArray())
                    {
                        Visit(inner);
                    }

                    break;
                case "ByteLevel":
                    byteLevel = true;
                    addPrefixSpace = OptionalBool(element, "add_prefix_space", true, path, "ByteLevel pre_tokenizer");
                    if (OptionalBool(element, "use_regex", true, path, "ByteLevel pre_tokenizer"))
                    {
                        SetPattern(PreTokenizerPatterns.Create(PreTokenizerPatterns.Gpt2));
                    }

                    break;
                case "Split":
                    string behavior = OptionalString(element, "behavior", path, "Split pre_tokenizer") ?? "Isolated";
                    if (behavior != "Isolated" || OptionalBool(element, "invert", false, path, "Split pre_tokenizer"))
                    {
                        throw Unsupported(path, "Split pre_tokenizer behaviour", behavior + (behavior == "Isolated" ? " (inverted)" : ""), "Isolated, not inverted");
                    }

                    SetPattern(ReadPattern(element, path, "Split pre_tokenizer"));
                    break;
                default:
                    throw Unsupported(path, "pre_tokenizer", type, "ByteLevel, Split, Sequence");
            }
        }

        void SetPattern(Regex regex) => pattern = pattern is null
            ? regex
            : throw new NotSupportedException($"'{path}': a pre_tokenizer that splits with more than one regex is not supported.");
    }

    internal static TokenDecoderSpec ReadDecoder(JsonElement? decoder, bool byteLevel, string path)
    {
        var spec = new TokenDecoderSpec(byteLevel, false, [], 0);
        return decoder is { } d ? Fold(d, spec) : spec;

        TokenDecoderSpec Fold(JsonElement element, TokenDecoderSpec acc)
        {
            string type = TypeOf(element, "decoder", path);
            switch (type)
            {
                case "Sequence":
                    return Required(element, "decoders", JsonValueKind.Array, path, "Sequence decoder").EnumerateArray().Aggregate(acc, (a, e) => Fold(e, a));
                case "ByteLevel":
                    return acc with { ByteLevel = true };
                case "ByteFallback":
                    return acc with { ByteFallback = true };
                case "Fuse":
                    return acc;
                case "Replace":
                    var pattern = Required(element, "pattern", JsonValueKind.Object, path, "Replace decoder");
                    string from = OptionalString(pattern, "String", path, "Replace decoder pattern")
                        ?? throw Unsupported(path, "Replace decoder pattern", "Regex", "String");
                    return acc with { Replacements = [.. acc.Replacements, (from, OptionalString(element, "content", path, "Replace decoder") ?? "")] };
                case "Strip":
                    if (OptionalString(element, "content", path, "Strip decoder") != " " || Optional(element, "stop") is { } stop && stop.GetInt32() != 0)
                    {
                        throw Unsupported(path, "Strip decoder", "anything but leading spaces", "content \" \" with stop 0");
                    }

                    return acc with { StripLeadingSpaces = RequiredInt(element, "start", path, "Strip decoder") };
                case "Metaspace":
                    string replacement = OptionalString(element, "replacement", path, "Metaspace decoder") ?? "\u2581";
                    bool prepends = OptionalString(element, "prepend_scheme", path, "Metaspace decoder") is not "never"
                        && OptionalBool(element, "add_prefix_space", true, path, "Metaspace decoder");
                    return acc with { Replacements = [.. acc.Replacements, (replacement, " ")], StripLeadingSpaces = prepends ? 1 : acc.StripLeadingSpaces };
                default:
                    throw Unsupported(path, "decoder", type, "ByteLevel, Sequence, Replace, ByteFallback, Fuse, Strip, Metaspace");
            }
        }
    }

    /// <summary>A {"String": "..."} or {"Regex": "..."} pattern as a .NET regex.</summary>
    private static Regex ReadPattern(JsonElement owner, string path, string where)
    {
        var pattern = Required(owner, "pattern", JsonValueKind.Object, path, where);
        if (OptionalString(pattern, "String", path, where + " pattern") is { } literal)
        {
            return PreTokenizerPatterns.Create(Regex.Escape(literal));
        }

        string regex = OptionalString(pattern, "Regex", path, where + " pattern")
            ?? throw new InvalidDataException($"'{path}': {where} pattern needs 'String' or 'Regex'.");
        try
        {
            return PreTokenizerPatterns.Create(regex);
        }
        catch (ArgumentException ex)
        {
            throw new NotSupportedException($"'{path}': the {where} regex cannot be compiled by .NET: {ex.Message}", ex);
        }
    }

    private static string TypeOf(JsonElement element, string component, string path) =>
        OptionalString(element, "type", path, component) ?? throw new InvalidDataException($"'{path}': a {component} has no 'type'.");

    private static NotSupportedException Unsupported(string path, string component, string type, string supported) =>
        new($"'{path}': {component} '{type}' is not supported (supported: {supported}).");
}
