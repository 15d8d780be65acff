using System.Text;
using TltTrainer.Tests.TestSupport;
using TltTrainer.Tokenization;

namespace TltTrainer.Tests.Tokenization;

/// <summary>A SentencePiece BPE model serialized by hand (protobuf), so the test needs no model download.</summary>
public sealed class SentencePieceModelTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _path;

    public SentencePieceModelTests() => _path = _dir.Write("tokenizer.model", BuildModel());

    public void Dispose() => _dir.Dispose();

    /// <summary>Pieces: unk, bos, eos, 256 byte pieces, letters, and merges ranked by score (higher merges first).</summary>
    private static byte[] BuildModel()
    {
        const int Normal = 1, Unknown = 2, Control = 3, Byte = 6;
        var pieces = new List<(string Piece, float Score, int Type)> { ("<unk>", 0, Unknown), ("<s>", 0, Control), ("</s>", 0, Control) };
        pieces.AddRange(Enumerable.Range(0, 256).Select(b => ($"<0x{b:X2}>", 0f, Byte)));
        pieces.AddRange(new[] { "ll", "he", "hell", "hello", "\u2581hello" }.Select((p, i) => (p, -1f - i, Normal)));
        pieces.AddRange("\u2581helowrd".Select(c => (c.ToString(), -100f, Normal)));

        var model = new ProtoWriter();
        foreach (var (piece, score, type) in pieces)
        {
            model.Message(1, new ProtoWriter().String(1, piece).Float(2, score).Varint(3, type));
        }

        model.Message(2, new ProtoWriter().Varint(3, 2 /* BPE */).Varint(35, 1 /* byte_fallback */)
            .Varint(40, 0).Varint(41, 1).Varint(42, 2));
        model.Message(3, new ProtoWriter().String(1, "identity").Varint(3, 1 /* add_dummy_prefix */)
            .Varint(4, 0).Varint(5, 1 /* escape_whitespaces */));
        return model.ToArray();
    }

    [Fact]
    public void Encode_HandBuiltModel_MergesByScoreAndRoundTrips()
    {
        var tokenizer = TokenizerLoader.FromSentencePieceModel(_path);

        var ids = tokenizer.Encode("hello world", new EncodeOptions { AddBos = true });

        Assert.Equal(new[] { "<s>", "\u2581hello", "\u2581", "w", "o", "r", "l", "d" }, ids.Select(tokenizer.GetToken));
        Assert.Equal((1, 2), (tokenizer.BosId, tokenizer.EosId));
        Assert.Equal("hello world", tokenizer.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void Encode_NoPrefixAndByteFallback_OmitsMarkerAndSpellsBytes()
    {
        var tokenizer = TokenizerLoader.FromSentencePieceModel(_path);

        var ids = tokenizer.Encode("hello h\u00e9", new EncodeOptions { AddPrefixSpace = false });

        Assert.Equal(new[] { "hello", "\u2581", "h", "<0xC3>", "<0xA9>" }, ids.Select(tokenizer.GetToken));
    }

    [Fact]
    public void FromSentencePieceModel_NotAModel_ThrowsInvalidDataNamingFile()
    {
        string path = _dir.Write("broken.model", Encoding.UTF8.GetBytes("this is not protobuf"));

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.FromSentencePieceModel(path));

        Assert.Contains(path, ex.Message);
    }

    /// <summary>Just enough protobuf: varints, fixed32 floats, length-delimited strings and messages.</summary>
    private sealed class ProtoWriter
    {
        private readonly MemoryStream _stream = new();

        public ProtoWriter Varint(int field, long value) => Tag(field, 0).Raw((ulong)value);

        public ProtoWriter Float(int field, float value)
        {
            Tag(field, 5);
            _stream.Write(BitConverter.GetBytes(value));
            return this;
        }

        public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public ProtoWriter Message(int field, ProtoWriter message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => _stream.ToArray();

        private ProtoWriter Bytes(int field, byte[] value)
        {
            Tag(field, 2).Raw((ulong)value.Length);
            _stream.Write(value);
            return this;
        }

        private ProtoWriter Tag(int field, int wireType) => Raw((ulong)((field << 3) | wireType));

        private ProtoWriter Raw(ulong value)
        {
            while (value >= 0x80)
            {
                _stream.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }

            _stream.WriteByte((byte)value);
            return this;
        }
    }
}
