using System.Buffers.Binary;
using System.Text;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>A scratch folder removed at the end of a test, and the makings of hand-built (mostly broken) safetensors files.</summary>
public sealed class SafeTensorsScratch : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("rawlora-safetensors-").FullName;

    public string PathOf(string name) => Path.Combine(Dir, name);

    public string Write(string name, byte[] bytes)
    {
        string path = PathOf(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);

    /// <summary>A file: the header's length, the header padded with spaces to a multiple of 8, then <paramref name="dataBytes"/> bytes 0, 1, 2, ...</summary>
    public static byte[] Bytes(string header, int dataBytes) => Bytes(Encoding.UTF8.GetBytes(header), dataBytes);

    public static byte[] Bytes(byte[] header, int dataBytes)
    {
        int padded = (header.Length + 7) / 8 * 8;
        var bytes = new byte[8 + padded + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)padded);
        header.CopyTo(bytes, 8);
        bytes.AsSpan(8 + header.Length, padded - header.Length).Fill((byte)' ');
        for (int i = 0; i < dataBytes; i++)
            bytes[8 + padded + i] = (byte)i;
        return bytes;
    }

    /// <summary>One header entry, "name":{"dtype":..,"shape":..,"data_offsets":[begin,end]}.</summary>
    public static string Entry(string name, string dtype, string shape, long begin, long end)
        => $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    /// <summary>The bytes of a contiguous host tensor, read straight from its storage.</summary>
    public static unsafe byte[] RawBytes(Tensor t)
    {
        Assert.True(t.IsContiguous && t.Device.IsCpu);
        return new ReadOnlySpan<byte>((void*)t.DataPointer, checked((int)(t.Numel * t.DType.Size()))).ToArray();
    }
}
