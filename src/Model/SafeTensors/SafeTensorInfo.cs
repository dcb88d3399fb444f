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

    public string Name { get; }
    public DType DType { get; }
    public int[] Shape => (int[])_shape.Clone();
    public long Begin { get; }
    public long End { get; }
    public long ByteLength => End - Begin;

    public override string ToString() => $"{Name}: {DType.SafetensorsName()} {Shapes.Format(_shape)} bytes [{Begin}, {End})";
}
