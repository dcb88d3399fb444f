using System.IO.MemoryMappedFiles;

namespace RawLongLoRA.Model;

/// <summary>
/// One validated safetensors file, memory-mapped. Opening reads and checks only the header;
/// <see cref="Load(string)"/> gives a tensor over the mapped bytes (no copy; pages come in when touched),
/// <see cref="Load(string, DType)"/> a converted copy in ordinary host memory. The mapping is
/// copy-on-write, so writing into a loaded tensor changes this process's pages, never the file; tensors
/// stay valid after this object is disposed. Data is little-endian, like every machine this runs on.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly SafeTensorsHeader _header;
    private readonly Dictionary<string, SafeTensorInfo> _byName;
    private bool _disposed;

    /// <summary>
    /// Opens and maps <paramref name="path"/> and validates its header; a broken file throws
    /// <see cref="SafeTensorsException"/> naming the rule. Dispose it to unmap the file.
    /// </summary>
    public SafeTensorsFile(string path)
    {
        Path = path;
        if (Directory.Exists(path))
            throw new SafeTensorsException(path, null, "missing-file", "this is a folder; expected a .safetensors file");
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new SafeTensorsException(path, null, "missing-file", "no such file");
        }
        long length = stream.Length;
        if (length < 8)
        {
            stream.Dispose();
            throw SafeTensorsHeader.TooSmall(path, length);
        }
        _map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.CopyOnWrite, HandleInheritability.None, leaveOpen: false);
        try
        {
            _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.CopyOnWrite);
            var handle = _view.SafeMemoryMappedViewHandle;
            byte* start = null;
            handle.AcquirePointer(ref start);
            try
            {
                var prefix = new ReadOnlySpan<byte>(start + _view.PointerOffset, (int)SafeTensorsHeader.PrefixLength(length));
                _header = SafeTensorsHeader.Parse(path, prefix, length);
            }
            finally
            {
                handle.ReleasePointer();
            }
        }
        catch
        {
            _view?.Dispose();
            _map.Dispose();
            throw;
        }
        _byName = _header.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>The file's path as given.</summary>
    public string Path { get; }

    /// <summary>Tensor names in the order their data sits in the file.</summary>
    public IEnumerable<string> Names => _header.Tensors.Select(t => t.Name);

    /// <summary>The header's __metadata__ (empty where it has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata => _header.Metadata;

    /// <summary>True when the file holds tensor <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>Dtype, shape and byte range; a name the file lacks throws with rule "missing-tensor".</summary>
    public SafeTensorInfo Info(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _byName.TryGetValue(name, out var info) ? info
            : throw new SafeTensorsException(Path, name, "missing-tensor", $"no such tensor among the {_byName.Count} in the file");
    }

    /// <summary>The tensor as stored, over the mapped bytes (contiguous, possibly misaligned: see <see cref="MappedStorage"/>).</summary>
    public Tensor Load(string name)
    {
        var info = Info(name);
        var storage = new MappedStorage(_view.SafeMemoryMappedViewHandle, _view.PointerOffset + _header.DataStart + info.Begin, info.ByteLength);
        return new Tensor(storage, Layout.Contiguous(info.Shape), info.DType);
    }

    /// <summary>A copy in host memory, converted to <paramref name="dtype"/> (round to nearest even into BF16/F16).</summary>
    public Tensor Load(string name, DType dtype)
    {
        using var mapped = Load(name);
        return Tensor.Empty(mapped.ShapeArray, dtype).CopyFrom(mapped);
    }

    /// <summary>Unmaps the file; tensors already loaded stay valid.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _view.Dispose();
        _map.Dispose();
    }
}
