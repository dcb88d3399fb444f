using System.Buffers.Binary;
using SkiaSharp;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// A PNG decoded to pixels, so that plot tests check what is drawn (the data's colours, where they are),
/// not only that a file with the PNG signature exists.
/// </summary>
internal sealed class PngImage
{
    private readonly SKColor[] _pixels;

    public int Width { get; }
    public int Height { get; }

    private PngImage(SKBitmap bitmap)
    {
        (Width, Height, _pixels) = (bitmap.Width, bitmap.Height, bitmap.Pixels);
    }

    /// <summary>
    /// Reads <paramref name="path"/>: the PNG signature and IHDR, a decodable image of that size, and
    /// not blank (at least 1% of its pixels differ from the background, the colour of the top-left corner).
    /// </summary>
    public static PngImage Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 33, $"{path}: {bytes.Length} bytes, too short for a PNG");
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], bytes[..8]);
        Assert.Equal("IHDR"u8.ToArray(), bytes[12..16]);
        using var bitmap = SKBitmap.Decode(bytes);
        Assert.True(bitmap is not null, $"{path}: not a decodable image");
        var image = new PngImage(bitmap);
        Assert.Equal((BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20))), (image.Width, image.Height));
        var background = image._pixels[0];
        int drawn = image.Count(c => c != background);
        Assert.True(drawn >= image._pixels.Length / 100, $"{path}: {drawn} of {image._pixels.Length} pixels differ from the background: a blank plot");
        return image;
    }

    /// <summary>Pixels within <paramref name="tolerance"/> per channel of <paramref name="colour"/> (line edges are antialiased).</summary>
    public static Func<SKColor, bool> Near(ScottPlot.Color colour, int tolerance = 24) => c =>
        Math.Abs(c.Red - colour.R) <= tolerance && Math.Abs(c.Green - colour.G) <= tolerance && Math.Abs(c.Blue - colour.B) <= tolerance;

    public int Count(Func<SKColor, bool> match) => Count(match, 0, Width);

    /// <summary>The matching pixels in columns [x0, x1).</summary>
    public int Count(Func<SKColor, bool> match, int x0, int x1)
    {
        int n = 0;
        for (int y = 0; y < Height; y++)
            for (int x = x0; x < x1; x++)
                n += match(_pixels[y * Width + x]) ? 1 : 0;
        return n;
    }

    /// <summary>The mean row (0 at the top) of the matching pixels in columns [x0, x1); NaN where none match.</summary>
    public double MeanRow(Func<SKColor, bool> match, int x0, int x1)
    {
        long sum = 0, n = 0;
        for (int y = 0; y < Height; y++)
            for (int x = x0; x < x1; x++)
                if (match(_pixels[y * Width + x]))
                    (sum, n) = (sum + y, n + 1);
        return n == 0 ? double.NaN : (double)sum / n;
    }
}
