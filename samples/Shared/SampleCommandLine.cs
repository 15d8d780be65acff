// Parsing a sample's command line with System.CommandLine, the same way for all four samples: --help (and
// --version) print and exit 0; a parse error, an unknown flag, or a value the options record refuses prints
// one line per error prefixed with the program's name and exits 2. Response files are off: a value starting
// with '@' (a template, a regex) is a value, as it always was.
using System.CommandLine;

namespace TltTrainer.Samples;

/// <summary>What a command line asks for: run with <see cref="Options"/>, or stop with <see cref="ExitCode"/>
/// (help printed, or the input refused).</summary>
/// <param name="Options">The settings to run with; null when the program should stop.</param>
/// <param name="ExitCode">0 after --help or --version, <see cref="SampleCommandLine.BadInput"/> after an error.</param>
internal sealed record CommandLineResult<T>(T? Options, int ExitCode) where T : class;

/// <summary>Runs a sample's <see cref="RootCommand"/> over its arguments and binds the result to its options record.</summary>
internal static class SampleCommandLine
{
    /// <summary>Exit code for input the program refuses (a bad flag, value, file or combination).</summary>
    public const int BadInput = 2;

    private static readonly ParserConfiguration Configuration = new() { ResponseFileTokenReplacer = null };

    /// <summary>Parses <paramref name="args"/> and binds them.</summary>
    /// <exception cref="ArgumentException">The arguments are invalid; the message has one line per error, each naming its flag.</exception>
    public static T Parse<T>(RootCommand command, IReadOnlyList<string> args, Func<ParseResult, T> bind)
    {
        var result = command.Parse(args, Configuration);
        if (result.Errors.Count > 0) throw new ArgumentException(string.Join(Environment.NewLine, result.Errors.Select(e => e.Message)));
        if (result.Action is not null) throw new ArgumentException("--help and --version print and exit; there is nothing to run.");
        return bind(result);
    }

    /// <summary>What a program's entry point does: help, errors (to <paramref name="error"/>, prefixed with <paramref name="program"/>), or the options.</summary>
    /// <param name="bind">Turns a parse result without errors into the options; may throw <see cref="ArgumentException"/>
    /// or <see cref="FileNotFoundException"/> naming the bad value or file.</param>
    public static CommandLineResult<T> Run<T>(string program, RootCommand command, IReadOnlyList<string> args, Func<ParseResult, T> bind,
        TextWriter output, TextWriter error) where T : class
    {
        var result = command.Parse(args, Configuration);
        if (result.Errors.Count == 0 && result.Action is not null)
            return new CommandLineResult<T>(null, result.Invoke(new InvocationConfiguration { Output = output, Error = error }));
        try
        {
            return new CommandLineResult<T>(Parse(command, args, bind), 0);
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException)
        {
            foreach (var line in e.Message.Split(Environment.NewLine)) error.WriteLine($"{program}: {line}");
            error.WriteLine($"{program}: run with --help for the options, their defaults and ranges.");
            return new CommandLineResult<T>(null, BadInput);
        }
    }
}
