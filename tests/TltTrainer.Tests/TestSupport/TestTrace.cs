// When TLT_TEST_TRACE names a file, every test appends "start"/"end" lines with the process's resident
// memory. A test host that dies without a word (native crash, OOM kill) leaves the tests that were
// running as "start" lines without an "end"; .ci/run prints them.
using System.Reflection;
using Xunit.Sdk;

[assembly: TltTrainer.Tests.TestSupport.TestTrace]

namespace TltTrainer.Tests.TestSupport;

[AttributeUsage(AttributeTargets.Assembly)]
internal sealed class TestTraceAttribute : BeforeAfterTestAttribute
{
    private static readonly string? Path = Environment.GetEnvironmentVariable("TLT_TEST_TRACE");
    private static readonly object Gate = new();

    public override void Before(MethodInfo methodUnderTest) => Write("start", methodUnderTest);

    public override void After(MethodInfo methodUnderTest) => Write("end", methodUnderTest);

    private static void Write(string what, MethodInfo method)
    {
        if (string.IsNullOrEmpty(Path)) return;
        long rssMiB = Environment.WorkingSet >> 20;
        lock (Gate) File.AppendAllText(Path, $"{DateTime.UtcNow:HH:mm:ss.fff} {what} {method.DeclaringType?.Name}.{method.Name} rss={rssMiB}MiB\n");
    }
}
