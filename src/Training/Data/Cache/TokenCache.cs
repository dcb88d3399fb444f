using System.IO.MemoryMappedFiles;

namespace RawLongLoRA.Training;

/// <summary>
/// A token cache folder: tokens.bin (every sample's ids, int32 little-endian, one after another),
/// samples.bin (a record per sample: int64 offset into tokens.bin in tokens, int32 length, int32
/// prompt length) and <see cref="TokenCacheManifest"/>. Both files are memory-mapped, so a corpus
/// larger than memory trains: rows read only the pages they need. Checked when opened: sizes against
/// the manifest, every record inside tokens.bin and in order.
/// </summary>
public sealed unsafe class TokenCache : SampleTokens
{
    /// <summary>The two data files of a cache folder, beside manifest.json.</summary>
    public const string TokensFile = "tokens.bin", SamplesFile = "samples.bin";
    internal const int RecordBytes = 16;

    private readonly Mapping? _tokens, _records;

    private TokenCache(string dir, TokenCacheManifest manifest)
    {
        Dir = dir;
        Manifest = manifest;
        try
        {
            _tokens = Mapping.Open(Path.Combine(dir, TokensFile), manifest.Tokens * sizeof(int), "tokens");
            _records = Mapping.Open(Path.Combine(dir, SamplesFile), manifest.Samples * RecordBytes, "samples");
            CheckRecords();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The cache folder.</summary>
    public string Dir { get; }

    /// <summary>The key the cache was made for and what tokenizing counted.</summary>
    public TokenCacheManifest Manifest { get; }

    /// <inheritdoc/>
    public override long Count => Manifest.Samples;

    /// <summary>Opens the cache in <paramref name="dir"/>; null where the folder holds no manifest.</summary>
    public static TokenCache? TryOpen(string dir) => TokenCacheManifest.TryRead(dir) is { } manifest ? new TokenCache(dir, manifest) : null;

    /// <inheritdoc/>
    public override ReadOnlySpan<int> Ids(long sample) => new((int*)_tokens!.Pointer + Offset(sample), Length(sample));

    /// <inheritdoc/>
    public override int Length(long sample) => *(int*)(Record(sample) + 8);

    /// <inheritdoc/>
    public override int PromptLength(long sample) => *(int*)(Record(sample) + 12);

    private long Offset(long sample) => *(long*)Record(sample);

    private byte* Record(long sample) => (uint)sample < (ulong)Count
        ? _records!.Pointer + sample * RecordBytes
        : throw new ArgumentOutOfRangeException(nameof(sample), sample, $"the cache holds {Count} samples");

    private void CheckRecords()
    {
        long next = 0;
        for (long s = 0; s < Count; s++)
        {
            long offset = Offset(s);
            int length = Length(s), prompt = PromptLength(s);
            if (offset != next || length < 0 || prompt < 0 || prompt > length || offset + length > Manifest.Tokens)
                throw new DataException(Path.Combine(Dir, SamplesFile), null, $"sample {s}",
                    $"offset {offset}, length {length}, prompt {prompt}; expected offset {next}, 0 <= prompt <= length, within the {Manifest.Tokens} tokens (the cache is damaged: delete the folder to tokenize again)");
            next = offset + length;
        }
        if (next != Manifest.Tokens)
            throw new DataException(Path.Combine(Dir, SamplesFile), null, null, $"the samples cover {next} tokens; the manifest says {Manifest.Tokens}");
    }

    /// <summary>Unmaps both files; spans from <see cref="Ids"/> are invalid afterwards.</summary>
    public override void Dispose()
    {
        _tokens?.Dispose();
        _records?.Dispose();
        base.Dispose();
    }

    /// <summary>A read-only mapping of a whole file whose size is known; an empty file maps nothing.</summary>
    private sealed class Mapping : IDisposable
    {
        private readonly MemoryMappedFile? _file;
        private readonly MemoryMappedViewAccessor? _view;
        private bool _disposed;

        private Mapping(MemoryMappedFile? file, MemoryMappedViewAccessor? view, byte* pointer)
        {
            _file = file;
            _view = view;
            Pointer = pointer;
        }

        public byte* Pointer { get; }

        public static Mapping Open(string path, long expectedBytes, string what)
        {
            long bytes = File.Exists(path) ? new FileInfo(path).Length
                : throw new DataException(path, null, null, "missing from the token cache (delete the folder to tokenize again)");
            if (bytes != expectedBytes)
                throw new DataException(path, null, null, $"holds {bytes} bytes; the manifest's {what} need {expectedBytes} (the cache is damaged: delete the folder to tokenize again)");
            if (bytes == 0)
                return new Mapping(null, null, null);
            var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            var view = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            return new Mapping(file, view, pointer + view.PointerOffset);
        }

        public void Dispose()
        {
            if (_disposed)
                return;
            _disposed = true;
            if (_view is not null)
            {
                _view.SafeMemoryMappedViewHandle.ReleasePointer();
                _view.Dispose();
            }
            _file?.Dispose();
        }
    }
}
