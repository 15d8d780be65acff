// TextGen's command line (System.CommandLine): one optional argument, the HuggingFace folder; --help
// describes it, a folder that does not exist is refused by name (exit code 2), and so is any flag.
using System.CommandLine;
using TltTrainer.Samples;

namespace TextGen;

/// <summary>Parses TextGen's arguments into <see cref="TextGenOptions"/>.</summary>
internal static class TextGenCommandLine
{
    private static readonly Argument<string?> Model = new("hf-folder")
    {
        Description = "A Llama/Qwen2 HuggingFace folder (config.json, safetensors, tokenizer files); default: the TinyStories-656K "
            + "checkpoint in ../shared/models, else the tiny preset with random weights.",
        Arity = ArgumentArity.ZeroOrOne,
        // An unknown flag would otherwise be taken for the folder.
        Validators = { result => { if (result.Tokens is [{ Value: ['-', ..] flag }]) result.AddError($"Unrecognized command or argument '{flag}'."); } },
    };

    /// <summary>The command, for --help and parsing.</summary>
    public static RootCommand Command { get; } = new("TextGen: loads a Llama/Qwen2 HuggingFace folder and generates text with plain and n-gram speculative decoding.")
    {
        Model,
    };

    /// <summary>Parses <paramref name="args"/>.</summary>
    /// <exception cref="ArgumentException">An argument is invalid or the folder does not exist; the message names it.</exception>
    public static TextGenOptions Parse(IReadOnlyList<string> args) => SampleCommandLine.Parse(Command, args, Bind);

    /// <summary>The entry point's view: the options, or an exit code after help or errors (written to <paramref name="error"/>).</summary>
    public static CommandLineResult<TextGenOptions> Run(IReadOnlyList<string> args, TextWriter output, TextWriter error) =>
        SampleCommandLine.Run("textgen", Command, args, Bind, output, error);

    private static TextGenOptions Bind(ParseResult r)
    {
        string? folder = r.GetValue(Model);
        if (folder is not null && !Directory.Exists(folder)) throw new ArgumentException($"hf-folder: '{Path.GetFullPath(folder)}' does not exist.");
        return new TextGenOptions(folder);
    }
}
