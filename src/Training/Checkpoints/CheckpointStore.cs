using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace RawLongLoRA.Training;

/// <summary>
/// Checkpoints under one output folder, as checkpoint-&lt;step&gt;/ folders that are complete or absent. A save
/// writes everything into a hidden sibling (.tmp-checkpoint-&lt;step&gt;-&lt;random&gt;), flushes each file to disk,
/// writes the manifest (<see cref="CheckpointManifest"/>) last and renames the folder into place, so a crash
/// at any point leaves the earlier checkpoints as they were and nothing <see cref="Latest"/> would pick.
/// Then it removes the oldest complete checkpoints beyond <see cref="KeepLast"/> and any leftover temporary
/// folders. One process writes to an output folder at a time. (.NET cannot fsync a folder, so after a power
/// cut the rename itself may be lost; the folder it came from is then removed as stale.)
/// </summary>
public sealed partial class CheckpointStore
{
    /// <summary>The JSON file of a checkpoint that holds the caller's state object.</summary>
    public const string StateFileName = "trainer_state.json";
    private const string Prefix = "checkpoint-", TempPrefix = ".tmp-checkpoint-";

    /// <summary>Readable JSON: indented, enums by name, fields included (records with fields round-trip).</summary>
    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true, IncludeFields = true, Converters = { new JsonStringEnumConverter() } };

    /// <summary>
    /// Checkpoints go under <paramref name="outputDir"/> (made on the first save); each save keeps the newest
    /// <paramref name="keepLast"/> (at least 1).
    /// </summary>
    public CheckpointStore(string outputDir, int keepLast)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keepLast, 1);
        OutputDir = Path.GetFullPath(outputDir);
        KeepLast = keepLast;
    }

    /// <summary>The folder holding the checkpoint-&lt;step&gt; folders, as a full path.</summary>
    public string OutputDir { get; }

    /// <summary>How many complete checkpoints a save leaves (the one it wrote among them).</summary>
    public int KeepLast { get; }

    /// <summary>
    /// Writes checkpoint-<paramref name="step"/>: each of <paramref name="files"/> as safetensors and
    /// <paramref name="state"/> as trainer_state.json (System.Text.Json, see <see cref="Json"/>). A checkpoint of the
    /// same step is replaced. On failure the exception comes through and the folder is as before the call.
    /// </summary>
    public CheckpointInfo Save<TState>(int step, IReadOnlyList<CheckpointFile> files, TState state)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        var names = new HashSet<string>(StringComparer.Ordinal) { StateFileName, CheckpointManifest.FileName };
        foreach (var f in files)
            if (f.FileName != Path.GetFileName(f.FileName) || !f.FileName.EndsWith(".safetensors", StringComparison.Ordinal) || !names.Add(f.FileName))
                throw new ArgumentException($"checkpoint: '{f.FileName}' must be a plain *.safetensors file name, given once", nameof(files));

        Directory.CreateDirectory(OutputDir);
        RemoveTemporaries();
        string temp = TempPath(step);
        Directory.CreateDirectory(temp);
        string final = Path.Combine(OutputDir, Prefix + step.ToString(CultureInfo.InvariantCulture));
        try
        {
            foreach (var f in files)
                Model.SafeTensorsWriter.Write(Path.Combine(temp, f.FileName), f.Tensors);
            WriteFlushed(Path.Combine(temp, StateFileName), JsonSerializer.SerializeToUtf8Bytes(state, Json));
            CheckpointManifest.Write(temp, step);
            if (Directory.Exists(final))
                Directory.Move(final, TempPath(step));
            Directory.Move(temp, final);
        }
        catch
        {
            if (Directory.Exists(temp))
                Directory.Delete(temp, recursive: true);
            throw;
        }

        foreach (var old in Complete().Where(c => c.Step != step).SkipLast(KeepLast - 1))
            Directory.Move(old.Path, TempPath(old.Step));
        RemoveTemporaries();
        return new CheckpointInfo(step, final);
    }

    /// <summary>The complete checkpoints, oldest step first; temporary and incomplete folders are not among them.</summary>
    public IReadOnlyList<CheckpointInfo> Complete()
    {
        if (!Directory.Exists(OutputDir))
            return [];
        var found = new List<CheckpointInfo>();
        foreach (var dir in Directory.EnumerateDirectories(OutputDir, Prefix + "*"))
        {
            var m = FolderName().Match(Path.GetFileName(dir));
            if (m.Success && int.TryParse(m.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out int step) && IsComplete(dir, step))
                found.Add(new CheckpointInfo(step, dir));
        }
        return [.. found.OrderBy(c => c.Step)];
    }

    /// <summary>The complete checkpoint of the highest step, or null where there is none (a fresh run).</summary>
    public CheckpointInfo? Latest() => Complete().LastOrDefault();

    /// <summary>
    /// Reads a checkpoint folder back: the state and every safetensors file's tensors (copies in host memory,
    /// in the order saved). A folder that is incomplete or whose trainer_state.json does not parse as
    /// <typeparamref name="TState"/> throws <see cref="CheckpointException"/> naming the file.
    /// </summary>
    public static LoadedCheckpoint<TState> Load<TState>(string path)
    {
        var manifest = CheckpointManifest.Read(path);
        string statePath = Path.Combine(path, StateFileName);
        if (!manifest.Files.ContainsKey(StateFileName))
            throw new CheckpointException(statePath, "missing from the checkpoint");
        TState? state;
        try
        {
            state = JsonSerializer.Deserialize<TState>(File.ReadAllBytes(statePath), Json);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            throw new CheckpointException(statePath, $"not a valid {typeof(TState).Name} ({e.Message})", e);
        }
        if (state is null)
            throw new CheckpointException(statePath, $"holds null, not a {typeof(TState).Name}");

        var tensors = new Dictionary<string, IReadOnlyList<(string Name, Tensor Tensor)>>(StringComparer.Ordinal);
        var loaded = new LoadedCheckpoint<TState>(manifest.Step, path, state, tensors);
        try
        {
            foreach (var name in manifest.Files.Keys.Where(n => n.EndsWith(".safetensors", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
            {
                using var file = new Model.SafeTensorsFile(Path.Combine(path, name));
                var list = new List<(string Name, Tensor Tensor)>();
                tensors[name] = list;
                foreach (var t in file.Names)
                    list.Add((t, file.Load(t, file.Info(t).DType)));
            }
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
        return loaded;
    }

    /// <summary>Writes a new file and flushes it to the disk before returning.</summary>
    internal static void WriteFlushed(string path, ReadOnlySpan<byte> bytes)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
    }

    private static bool IsComplete(string dir, int step)
    {
        try
        {
            return CheckpointManifest.Read(dir).Step == step;
        }
        catch (CheckpointException)
        {
            return false;
        }
    }

    private string TempPath(int step) => Path.Combine(OutputDir, $"{TempPrefix}{step.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid():N}");

    /// <summary>Folders of saves that did not finish, and replaced or pruned checkpoints on their way out.</summary>
    private void RemoveTemporaries()
    {
        foreach (var dir in Directory.EnumerateDirectories(OutputDir, TempPrefix + "*"))
            Directory.Delete(dir, recursive: true);
    }

    [GeneratedRegex("^checkpoint-([0-9]+)$")]
    private static partial Regex FolderName();
}
