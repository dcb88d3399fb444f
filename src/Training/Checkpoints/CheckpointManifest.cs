using System.Text.Json;

namespace RawLongLoRA.Training;

/// <summary>
/// checkpoint.json, written last into a checkpoint folder: the step and every file with its length. It is
/// the completion marker: a folder whose manifest is missing, unreadable, of another step, or whose files
/// are missing or of another length (a torn copy) is not a checkpoint.
/// </summary>
internal sealed record CheckpointManifest(int Step, Dictionary<string, long> Files)
{
    public const string FileName = "checkpoint.json";

    /// <summary>Lists the files now in <paramref name="dir"/> and writes the manifest, flushed to disk.</summary>
    public static void Write(string dir, int step)
    {
        var files = Directory.EnumerateFiles(dir).ToDictionary(f => Path.GetFileName(f), f => new FileInfo(f).Length, StringComparer.Ordinal);
        CheckpointStore.WriteFlushed(Path.Combine(dir, FileName), JsonSerializer.SerializeToUtf8Bytes(new CheckpointManifest(step, files), CheckpointStore.Json));
    }

    /// <summary>The verified manifest of <paramref name="dir"/>; throws <see cref="CheckpointException"/> naming the file at fault.</summary>
    public static CheckpointManifest Read(string dir)
    {
        string path = Path.Combine(dir, FileName);
        if (!File.Exists(path))
            throw new CheckpointException(path, "missing: the checkpoint was not completed");
        CheckpointManifest? m;
        try
        {
            m = JsonSerializer.Deserialize<CheckpointManifest>(File.ReadAllBytes(path), CheckpointStore.Json);
        }
        catch (JsonException e)
        {
            throw new CheckpointException(path, $"not a valid manifest ({e.Message})", e);
        }
        if (m?.Files is null)
            throw new CheckpointException(path, "not a valid manifest (no \"Files\")");
        foreach (var (name, length) in m.Files)
        {
            var info = new FileInfo(Path.Combine(dir, name));
            if (name != Path.GetFileName(name) || !info.Exists || info.Length != length)
                throw new CheckpointException(info.FullName, info.Exists ? $"{info.Length} bytes, the manifest says {length}" : "listed in the manifest but missing");
        }
        return m;
    }
}
