using Google.Protobuf;

namespace Microsoft.ML.MixtureHeads.Onnx;

/// <summary>
/// A cursor over the fields of one protobuf message that lies inside a byte array, on top of
/// <see cref="CodedInputStream"/>. Nested messages are read in place (no copies); every malformed or truncated
/// field becomes an <see cref="InvalidDataException"/> that names the message (<see cref="Where"/>) and field.
/// </summary>
internal sealed class ProtoMessageReader
{
    private readonly byte[] _buffer;
    private readonly CodedInputStream _input;
    private WireFormat.WireType _wireType;

    public ProtoMessageReader(byte[] buffer, int offset, int length, string where)
    {
        _buffer = buffer;
        _input = new CodedInputStream(buffer, offset, length);
        Where = where;
    }

    /// <summary>Which message this is, for error messages, e.g. "ModelProto.graph.initializer[3]".</summary>
    public string Where { get; }

    /// <summary>The field number of the field just reached by <see cref="Next"/>.</summary>
    public int Field { get; private set; }

    /// <summary>Moves to the next field; false at the end of the message.</summary>
    public bool Next()
    {
        uint tag = Guard(_input.ReadTag);
        if (tag == 0) return false;
        Field = WireFormat.GetTagFieldNumber(tag);
        _wireType = WireFormat.GetTagWireType(tag);
        return true;
    }

    public long Int64()
    {
        Expect(WireFormat.WireType.Varint);
        return Guard(_input.ReadInt64);
    }

    public float Float()
    {
        Expect(WireFormat.WireType.Fixed32);
        return Guard(_input.ReadFloat);
    }

    public string String()
    {
        Expect(WireFormat.WireType.LengthDelimited);
        return Guard(_input.ReadString);
    }

    /// <summary>A copy of a bytes field; <paramref name="what"/> names it in errors, e.g. "ModelProto.graph.initializer[2].raw_data".</summary>
    public byte[] Bytes(string what)
    {
        var (offset, length) = Payload(what);
        return _buffer.AsSpan(offset, length).ToArray();
    }

    /// <summary>A reader over an embedded message field; <paramref name="where"/> names it in errors.</summary>
    public ProtoMessageReader Message(string where)
    {
        var (offset, length) = Payload(where);
        return new ProtoMessageReader(_buffer, offset, length, where);
    }

    /// <summary>Adds a repeated int64 field's values, whether written packed or one per tag.</summary>
    public void Int64s(List<long> into)
    {
        if (_wireType != WireFormat.WireType.LengthDelimited)
        {
            into.Add(Int64());
            return;
        }
        var packed = Message($"{Where}, packed field {Field}");
        while (!packed.AtEnd())
            into.Add(packed.Guard(packed._input.ReadInt64));
    }

    /// <summary>Adds a repeated float field's values, whether written packed or one per tag.</summary>
    public void Floats(List<float> into)
    {
        if (_wireType != WireFormat.WireType.LengthDelimited)
        {
            into.Add(Float());
            return;
        }
        var (offset, length) = Payload($"{Where}, packed field {Field}");
        if (length % sizeof(float) != 0)
            throw Corrupt($"packed floats take {length} bytes, not a multiple of 4");
        for (int i = 0; i < length; i += sizeof(float))
            into.Add(BitConverter.ToSingle(_buffer, offset + i));
    }

    /// <summary>Skips a field this reader does not use.</summary>
    public void Skip() => Guard(() => { _input.SkipLastField(); return 0; });

    /// <summary>An exception naming this message and the current field.</summary>
    public InvalidDataException Corrupt(string problem, Exception? inner = null) =>
        new($"Invalid ONNX model: {Where}, field {Field}: {problem}.", inner);

    /// <summary>Where a length-delimited field's payload lies in the buffer; moves past it.</summary>
    private (int Offset, int Length) Payload(string what)
    {
        Expect(WireFormat.WireType.LengthDelimited);
        int start = (int)_input.Position;
        try
        {
            _input.SkipLastField();
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"Invalid ONNX model: {what} is truncated or its length is corrupt ({e.Message.TrimEnd('.')}).", e);
        }
        int end = (int)_input.Position;
        int length = new CodedInputStream(_buffer, start, end - start).ReadLength();
        return (end - length, length);
    }

    private bool AtEnd() => Guard(() => _input.IsAtEnd);

    private void Expect(WireFormat.WireType wireType)
    {
        if (_wireType != wireType)
            throw Corrupt($"wire type {_wireType} where {wireType} was expected");
    }

    private T Guard<T>(Func<T> read)
    {
        try
        {
            return read();
        }
        catch (InvalidProtocolBufferException e)
        {
            throw Corrupt(e.Message.TrimEnd('.'), e);
        }
    }
}
