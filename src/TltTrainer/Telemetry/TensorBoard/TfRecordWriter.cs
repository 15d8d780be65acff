// TFRecord framing, the container of TensorBoard event files: each record is
//   uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes | data | uint32 masked CRC-32C of data
// where masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8. CRC-32C (Castagnoli) comes from
// BitOperations.Crc32C (a hardware instruction where there is one).
using System.Buffers.Binary;
using System.Numerics;

namespace TltTrainer.Telemetry.TensorBoard;

/// <summary>Appends TFRecord-framed records to a stream.</summary>
internal sealed class TfRecordWriter(Stream stream)
{
    /// <summary>Writes one record.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], MaskedCrc(header[..8]));
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, MaskedCrc(data));
        stream.Write(header);
        stream.Write(data);
        stream.Write(footer);
    }

    /// <summary>CRC-32C of <paramref name="data"/>.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = ~0u;
        foreach (byte b in data) crc = BitOperations.Crc32C(crc, b);
        return ~crc;
    }

    /// <summary>The masked CRC-32C TFRecord stores (masking keeps a CRC of data that holds CRCs well distributed).</summary>
    public static uint MaskedCrc(ReadOnlySpan<byte> data)
    {
        uint crc = Crc32C(data);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }
}
