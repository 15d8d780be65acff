using TextGen;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Samples;

/// <summary>TextGen's command line: an optional folder that must exist, and no flags besides --help.</summary>
public sealed class TextGenCommandLineTests
{
    [Fact]
    public void Parse_NoArguments_LeavesTheFolderToTheDefault()
    {
        Assert.Null(TextGenCommandLine.Parse([]).ModelDirectory);
    }

    [Fact]
    public void Parse_ExistingFolder_IsTheModel()
    {
        using var dir = new TempDirectory();
        Assert.Equal(dir.Path, TextGenCommandLine.Parse([dir.Path]).ModelDirectory);
    }

    [Fact]
    public void Parse_MissingFolder_IsNamed()
    {
        var e = Assert.Throws<ArgumentException>(() => TextGenCommandLine.Parse(["/no/such/model-folder"]));
        Assert.Contains("hf-folder", e.Message);
        Assert.Contains("/no/such/model-folder", e.Message);
    }

    [Theory]
    [InlineData("--model")]
    [InlineData("-x")]
    public void Parse_UnknownFlag_IsRefusedByName_NotTakenForTheFolder(string flag)
    {
        var e = Assert.Throws<ArgumentException>(() => TextGenCommandLine.Parse([flag]));
        Assert.Contains($"'{flag}'", e.Message);
    }

    [Fact]
    public void Run_TwoFolders_ExitsTwo_Help_ExitsZero()
    {
        using var dir = new TempDirectory();
        Assert.Equal(2, TextGenCommandLine.Run([dir.Path, dir.Path], TextWriter.Null, TextWriter.Null).ExitCode);
        var output = new StringWriter();
        Assert.Equal(0, TextGenCommandLine.Run(["--help"], output, TextWriter.Null).ExitCode);
        Assert.Contains("<hf-folder>", output.ToString());
    }
}
