using System.Buffers.Binary;
using System.Text;
using TltTrainer.Telemetry;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Telemetry;

/// <summary>The event file read back with an independent TFRecord/protobuf reader written here (bitwise CRC-32C, hand decoding).</summary>
public sealed class TensorBoardMetricsSinkTests
{
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now = now;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private sealed record Value(string Tag, float? Scalar, (double Min, double Max, double Num, double[] Limits, double[] Counts)? Histogram);

    private sealed record Event(double WallTime, long Step, string? FileVersion, List<Value> Values);

    // CRC-32C, bit by bit (reflected polynomial 0x82F63B78), and TFRecord's mask.
    private static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
        }
        return ~crc;
    }

    private static uint Masked(ReadOnlySpan<byte> data)
    {
        uint crc = Crc32C(data);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8;
    }

    private static List<Event> ReadEvents(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var events = new List<Event>();
        int at = 0;
        while (at < bytes.Length)
        {
            var header = bytes.AsSpan(at, 8);
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(header);
            Assert.Equal(Masked(header), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 8)));
            var data = bytes.AsSpan(at + 12, (int)length);
            Assert.Equal(Masked(data), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 12 + (int)length)));
            events.Add(DecodeEvent(data.ToArray()));
            at += 12 + (int)length + 4;
        }
        Assert.Equal(bytes.Length, at);
        return events;
    }

    // Protobuf fields as (number, wire type, varint or fixed value, bytes).
    private static IEnumerable<(int Field, int Type, ulong Number, byte[] Bytes)> Fields(byte[] message)
    {
        int at = 0;
        ulong Varint()
        {
            ulong v = 0;
            for (int shift = 0; ; shift += 7)
            {
                byte b = message[at++];
                v |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return v;
            }
        }
        while (at < message.Length)
        {
            ulong key = Varint();
            int field = (int)(key >> 3), type = (int)(key & 7);
            switch (type)
            {
                case 0: yield return (field, type, Varint(), Array.Empty<byte>()); break;
                case 1: yield return (field, type, BinaryPrimitives.ReadUInt64LittleEndian(message.AsSpan((at += 8) - 8)), Array.Empty<byte>()); break;
                case 5: yield return (field, type, BinaryPrimitives.ReadUInt32LittleEndian(message.AsSpan((at += 4) - 4)), Array.Empty<byte>()); break;
                case 2:
                    int n = (int)Varint();
                    yield return (field, type, 0, message.AsSpan((at += n) - n, n).ToArray());
                    break;
                default: throw new InvalidDataException($"wire type {type}");
            }
        }
    }

    private static double D(ulong bits) => BitConverter.Int64BitsToDouble((long)bits);

    private static double[] Packed(byte[] b) => Enumerable.Range(0, b.Length / 8).Select(i => BinaryPrimitives.ReadDoubleLittleEndian(b.AsSpan(8 * i))).ToArray();

    private static Event DecodeEvent(byte[] data)
    {
        double wall = 0;
        long step = 0;
        string? version = null;
        var values = new List<Value>();
        foreach (var f in Fields(data))
        {
            if (f.Field == 1) wall = D(f.Number);
            else if (f.Field == 2) step = (long)f.Number;
            else if (f.Field == 3) version = Encoding.UTF8.GetString(f.Bytes);
            else if (f.Field == 5)
                foreach (var v in Fields(f.Bytes).Where(v => v.Field == 1))
                {
                    string tag = "";
                    float? scalar = null;
                    (double, double, double, double[], double[])? histo = null;
                    foreach (var x in Fields(v.Bytes))
                    {
                        if (x.Field == 1) tag = Encoding.UTF8.GetString(x.Bytes);
                        else if (x.Field == 2) scalar = BitConverter.Int32BitsToSingle((int)x.Number);
                        else if (x.Field == 5)
                        {
                            var h = Fields(x.Bytes).ToList();
                            histo = (D(h.Single(y => y.Field == 1).Number), D(h.Single(y => y.Field == 2).Number), D(h.Single(y => y.Field == 3).Number),
                                Packed(h.Single(y => y.Field == 6).Bytes), Packed(h.Single(y => y.Field == 7).Bytes));
                        }
                    }
                    values.Add(new Value(tag, scalar, histo));
                }
        }
        return new Event(wall, step, version, values);
    }

    private static StepMetrics Step(int step, double reward) => new()
    {
        Step = step, RewardMean = reward, RolloutSeconds = 0.5 + step, ResponseLengths = new[] { 3, 5, 5, 40 }, AcceptLengths = new[] { 1.0, 2.5, 4.0, 1.0 },
        ArmChoices = new Dictionary<string, long> { ["b1-2:eagle/chain-d6"] = 7 }, RewardFunctionMeans = new Dictionary<string, double> { ["math_answer"] = reward },
        ValidationAccuracy = step == 1 ? 0.625 : null,
    };

    [Fact]
    public void Write_ThreeSteps_FileIsReadable_CrcsHold_AndHoldsTheTagsAndSteps()
    {
        using var dir = new TempDirectory();
        var clock = new FixedClock(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_250));
        string path;
        using (var sink = new TensorBoardMetricsSink(Path.Combine(dir.Path, "tb", "on"), clock))
        {
            path = sink.FilePath;
            for (int s = 0; s < 3; s++)
            {
                clock.Now = clock.Now.AddSeconds(10);
                sink.Write(Step(s, 0.25 * s));
            }
        }
        Assert.Contains("tfevents", Path.GetFileName(path));
        var events = ReadEvents(path);

        Assert.Equal(4, events.Count);
        Assert.Equal("brain.Event:2", events[0].FileVersion);
        Assert.Equal(1_700_000_000.25, events[0].WallTime);
        Assert.Equal(new long[] { 0, 1, 2 }, events.Skip(1).Select(e => e.Step));
        Assert.Equal(new[] { 1_700_000_010.25, 1_700_000_020.25, 1_700_000_030.25 }, events.Skip(1).Select(e => e.WallTime));
        for (int s = 0; s < 3; s++)
        {
            var byTag = events[s + 1].Values.ToDictionary(v => v.Tag);
            Assert.Equal((float)(0.25 * s), byTag["reward/mean"].Scalar);                   // the JSONL names
            Assert.Equal((float)(0.5 + s), byTag["time/rollout_s"].Scalar);
            Assert.Equal((float)(0.25 * s), byTag["reward/math_answer/mean"].Scalar);
            Assert.Equal(7f, byTag["rollout/arm_choices/b1-2:eagle/chain-d6"].Scalar);
            Assert.Equal(s == 1, byTag.ContainsKey("val/accuracy"));                       // only when evaluated
            Assert.False(byTag.ContainsKey("step"));

            var lengths = byTag["response/lengths"].Histogram!.Value;
            Assert.Equal((3.0, 40.0, 4.0), (lengths.Min, lengths.Max, lengths.Num));
            Assert.Equal(4.0, lengths.Counts.Sum());
            Assert.Equal(40.0, lengths.Limits[^1]);
            Assert.Equal(lengths.Limits.OrderBy(x => x), lengths.Limits);
            var accept = byTag["rollout/accept_lens"].Histogram!.Value;
            Assert.Equal((1.0, 4.0, 4.0), (accept.Min, accept.Max, accept.Num));
        }
        Assert.Equal(0.625f, events[2].Values.Single(v => v.Tag == "val/accuracy").Scalar);   // exact in float
    }

    [Fact]
    public void Crc32C_KnownVector() => Assert.Equal(0xE3069283u, TltTrainer.Telemetry.TensorBoard.TfRecordWriter.Crc32C("123456789"u8));

    [Fact]
    public void Create_TwoSinksInOneFolder_GetTheirOwnFiles()
    {
        using var dir = new TempDirectory();
        using var a = new TensorBoardMetricsSink(dir.Path);
        using var b = new TensorBoardMetricsSink(dir.Path);
        Assert.NotEqual(a.FilePath, b.FilePath);
    }
}
