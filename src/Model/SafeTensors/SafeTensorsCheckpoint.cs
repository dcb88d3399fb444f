namespace RawLongLoRA.Model;

/// <summary>
/// The weights of a Hugging Face model folder: model.safetensors, or model.safetensors.index.json and the
/// shards it names (where both exist the single file wins, as in transformers). Every shard is opened and
/// its header validated up front; the data is mapped and read only when a tensor is loaded. The index must
/// agree with the shards: each shard exists, each mapped tensor is in its shard, no tensor is in two.
/// </summary>
public sealed class SafeTensorsCheckpoint : IDisposable
{
    private readonly List<SafeTensorsFile> _files = [];
    private readonly Dictionary<string, SafeTensorsFile> _owner = new(StringComparer.Ordinal);

    private SafeTensorsCheckpoint(string path) => Path = path;

    /// <summary>The single file or the index this checkpoint was opened from.</summary>
    public string Path { get; }

    /// <summary>The safetensors files, in shard order.</summary>
    public IEnumerable<string> Files => _files.Select(f => f.Path);

    /// <summary>Every tensor, shard by shard in file order.</summary>
    public IEnumerable<string> Names => _files.SelectMany(f => f.Names);

    /// <param name="path">A model folder, a .safetensors file, or an .index.json file.</param>
    /// <param name="baseName">In a folder, the file name before .safetensors ("adapter_model" for a PEFT adapter).</param>
    public static SafeTensorsCheckpoint Open(string path, string baseName = "model")
    {
        if (Directory.Exists(path))
        {
            string single = System.IO.Path.Combine(path, baseName + ".safetensors"), index = single + ".index.json";
            path = File.Exists(single) ? single : File.Exists(index) ? index
                : throw new SafeTensorsException(path, null, "missing-file", $"the folder holds neither {baseName}.safetensors nor {baseName}.safetensors.index.json");
        }
        var checkpoint = new SafeTensorsCheckpoint(path);
        try
        {
            if (path.EndsWith(".index.json", StringComparison.Ordinal))
                checkpoint.OpenShards();
            else
                checkpoint.Add(new SafeTensorsFile(path));
            return checkpoint;
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    private void OpenShards()
    {
        if (!File.Exists(Path))
            throw new SafeTensorsException(Path, null, "missing-file", "no such file");
        var weightMap = SafeTensorsIndex.Read(Path);
        string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;
        var shards = weightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        foreach (var shard in shards)
            if (!File.Exists(System.IO.Path.Combine(dir, shard)))
                throw new SafeTensorsException(Path, null, "missing-shard", $"the shard '{shard}' it names does not exist beside it");
        foreach (var shard in shards)
            Add(new SafeTensorsFile(System.IO.Path.Combine(dir, shard)));
        foreach (var (name, shard) in weightMap)
            if (!_owner.TryGetValue(name, out var file) || System.IO.Path.GetFileName(file.Path) != shard)
                throw new SafeTensorsException(Path, name, "missing-tensor", $"the index maps it to '{shard}', which does not hold it");
    }

    private void Add(SafeTensorsFile file)
    {
        _files.Add(file);
        foreach (var name in file.Names)
            if (!_owner.TryAdd(name, file))
                throw new SafeTensorsException(Path, name, "duplicate-tensor",
                    $"it is in both '{System.IO.Path.GetFileName(_owner[name].Path)}' and '{System.IO.Path.GetFileName(file.Path)}'");
    }

    /// <summary>True when one of the files holds tensor <paramref name="name"/>.</summary>
    public bool Contains(string name) => _owner.ContainsKey(name);

    /// <summary>
    /// The header entry of tensor <paramref name="name"/>; a name no file holds throws with rule "missing-tensor".
    /// </summary>
    public SafeTensorInfo Info(string name) => FileOf(name).Info(name);

    /// <summary>See <see cref="SafeTensorsFile.Load(string)"/>: a view over the mapped bytes.</summary>
    public Tensor Load(string name) => FileOf(name).Load(name);

    /// <summary>See <see cref="SafeTensorsFile.Load(string, DType)"/>: a converted copy in host memory.</summary>
    public Tensor Load(string name, DType dtype) => FileOf(name).Load(name, dtype);

    private SafeTensorsFile FileOf(string name) => _owner.TryGetValue(name, out var file) ? file
        : throw new SafeTensorsException(Path, name, "missing-tensor", $"no such tensor among the {_owner.Count} in the checkpoint");

    /// <summary>Closes every file; tensors already loaded stay valid.</summary>
    public void Dispose()
    {
        foreach (var file in _files)
            file.Dispose();
    }
}
