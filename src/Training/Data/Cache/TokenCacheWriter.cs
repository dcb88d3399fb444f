using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace RawLongLoRA.Training;

/// <summary>
/// Writes a <see cref="TokenCache"/> sample by sample into a temporary sibling folder, and puts it in
/// place only when <see cref="Finish"/> has written the manifest: a run killed while tokenizing
/// leaves no cache that looks complete (and the next run removes the temporary folder).
/// </summary>
internal sealed class TokenCacheWriter : IDisposable
{
    private static readonly string[] CacheFiles = [TokenCacheManifest.FileName, TokenCache.TokensFile, TokenCache.SamplesFile];

    private readonly string _dir, _temp;
    private readonly FileStream _tokens, _samples;
    private readonly byte[] _record = new byte[TokenCache.RecordBytes];
    private long _count, _offset;
    private bool _finished;

    public TokenCacheWriter(string dir)
    {
        _dir = Path.GetFullPath(dir);
        RemoveLeftovers(_dir);
        _temp = $"{_dir}.tmp-{Environment.ProcessId}";
        Directory.CreateDirectory(_temp);
        _tokens = new FileStream(Path.Combine(_temp, TokenCache.TokensFile), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        _samples = new FileStream(Path.Combine(_temp, TokenCache.SamplesFile), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
    }

    public void Add(TokenizedSample sample)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("token caches are written little-endian");
        _tokens.Write(MemoryMarshal.AsBytes(sample.Ids.AsSpan()));
        BinaryPrimitives.WriteInt64LittleEndian(_record, _offset);
        BinaryPrimitives.WriteInt32LittleEndian(_record.AsSpan(8), sample.Ids.Length);
        BinaryPrimitives.WriteInt32LittleEndian(_record.AsSpan(12), sample.PromptLength);
        _samples.Write(_record);
        _offset += sample.Ids.Length;
        _count++;
    }

    /// <summary>Writes the manifest (the key and <paramref name="stats"/>) and replaces any old cache in the folder.</summary>
    public void Finish(TokenCacheKey key, DataStats stats)
    {
        _tokens.Flush(flushToDisk: true);
        _samples.Flush(flushToDisk: true);
        _tokens.Dispose();
        _samples.Dispose();
        new TokenCacheManifest(key, _count, _offset, stats.Skipped, stats.TruncatedPrompts, stats.TruncatedAnswers).Write(_temp);
        if (Directory.Exists(_dir))
        {
            if (Directory.EnumerateFileSystemEntries(_dir).Any(e => !CacheFiles.Contains(Path.GetFileName(e))))
                throw new IOException($"{_dir} holds files that are not a token cache's; give an empty or new folder");
            Directory.Delete(_dir, recursive: true);
        }
        Directory.Move(_temp, _dir);
        _finished = true;
    }

    public void Dispose()
    {
        _tokens.Dispose();
        _samples.Dispose();
        if (!_finished && Directory.Exists(_temp))
            Directory.Delete(_temp, recursive: true);
    }

    /// <summary>Temporary folders of writers that were killed before they could clean up.</summary>
    private static void RemoveLeftovers(string dir)
    {
        string parent = Path.GetDirectoryName(dir)!;
        if (Directory.Exists(parent))
            foreach (string leftover in Directory.EnumerateDirectories(parent, Path.GetFileName(dir) + ".tmp-*"))
                Directory.Delete(leftover, recursive: true);
    }
}
