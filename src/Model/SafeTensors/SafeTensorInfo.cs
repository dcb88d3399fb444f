namespace RawLongLoRA.Model;

/// <summary>One tensor's header entry: dtype, shape and its byte range [Begin, End) within the data section.</summary>
public sealed class SafeTensorInfo
{
    private readonly int[] _shape;

    internal SafeTensorInfo(string name, DType dtype, int[] shape, long begin, long end)
    {
        Name = name;
        DType = dtype;
        _shape = shape;
        Begin = begin;
        End = end;
    }

    /// <summary>The tensor's key in the file.</summary>
    public string Name { get; }
    /// <summary>The stored element type.</summary>
    public DType DType { get; }
    /// <summary>A copy of the shape.</summary>
    public int[] Shape => (int[])_shape.Clone();
    /// <summary>Offset of the first byte, from the start of the data section.</summary>
    public long Begin { get; }
    /// <summary>Offset one past the last byte, from the start of the data section.</summary>
    public long End { get; }
    /// <summary>Bytes of data: shape × dtype size.</summary>
    public long ByteLength => End - Begin;

    /// <summary>"name: DTYPE [shape] bytes [begin, end)", for reports.</summary>
    public override string ToString() => $"{Name}: {DType.SafetensorsName()} {Shapes.Format(_shape)} bytes [{Begin}, {End})";
}
