// The few TensorFlow protobuf messages an event file needs, encoded by hand (field numbers from
// tensorflow/core/util/event.proto and framework/summary.proto):
//   Event          { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary        { repeated Value value = 1; }
//   Summary.Value  { string tag = 1; float simple_value = 2; HistogramProto histo = 5; }
//   HistogramProto { double min = 1, max = 2, num = 3, sum = 4, sum_squares = 5;
//                    repeated double bucket_limit = 6 [packed]; repeated double bucket = 7 [packed]; }
// Wire format: a key is (field << 3) | type, with type 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.
using System.Buffers.Binary;
using System.Text;

namespace TltTrainer.Telemetry.TensorBoard;

/// <summary>Encodes TensorBoard events.</summary>
internal static class EventEncoder
{
    /// <summary>The first event of every file: <c>file_version = "brain.Event:2"</c>.</summary>
    public static byte[] FileVersion(double wallTime)
    {
        var e = new Proto();
        e.Double(1, wallTime);
        e.String(3, "brain.Event:2");
        return e.ToArray();
    }

    /// <summary>An event of scalar values (<c>simple_value</c>) and histograms at one step.</summary>
    public static byte[] Summary(double wallTime, long step, IEnumerable<(string Tag, float Value)> scalars, IEnumerable<(string Tag, Histogram Histogram)> histograms)
    {
        var summary = new Proto();
        foreach (var (tag, value) in scalars)
        {
            var v = new Proto();
            v.String(1, tag);
            v.Float(2, value);
            summary.Message(1, v);
        }
        foreach (var (tag, h) in histograms)
        {
            var histo = new Proto();
            histo.Double(1, h.Min);
            histo.Double(2, h.Max);
            histo.Double(3, h.Count);
            histo.Double(4, h.Sum);
            histo.Double(5, h.SumSquares);
            histo.PackedDoubles(6, h.BucketLimits);
            histo.PackedDoubles(7, h.BucketCounts);
            var v = new Proto();
            v.String(1, tag);
            v.Message(5, histo);
            summary.Message(1, v);
        }
        var e = new Proto();
        e.Double(1, wallTime);
        e.Varint(2, (ulong)step);
        e.Message(5, summary);
        return e.ToArray();
    }

    /// <summary>A protobuf message being written.</summary>
    private sealed class Proto
    {
        private readonly MemoryStream _bytes = new();

        public byte[] ToArray() => _bytes.ToArray();

        public void Varint(int field, ulong value)
        {
            Key(field, 0);
            Raw(value);
        }

        public void Double(int field, double value)
        {
            Key(field, 1);
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteDoubleLittleEndian(b, value);
            _bytes.Write(b);
        }

        public void Float(int field, float value)
        {
            Key(field, 5);
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(b, value);
            _bytes.Write(b);
        }

        public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public void Message(int field, Proto message) => Bytes(field, message.ToArray());

        public void PackedDoubles(int field, double[] values)
        {
            var packed = new byte[8 * values.Length];
            for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(packed.AsSpan(8 * i), values[i]);
            Bytes(field, packed);
        }

        private void Bytes(int field, byte[] value)
        {
            Key(field, 2);
            Raw((ulong)value.Length);
            _bytes.Write(value);
        }

        private void Key(int field, int wireType) => Raw((ulong)((field << 3) | wireType));

        private void Raw(ulong value)
        {
            while (value >= 0x80)
            {
                _bytes.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }
            _bytes.WriteByte((byte)value);
        }
    }
}
