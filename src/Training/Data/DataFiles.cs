using System.Text;

namespace RawLongLoRA.Training;

/// <summary>
/// The files a data argument names: a file as given, or a folder's *.txt and *.jsonl files (not its
/// subfolders) in ordinal name order, so that every machine packs the same rows in the same order.
/// </summary>
internal static class DataFiles
{
    public static IReadOnlyList<string> Expand(IEnumerable<string> paths)
    {
        var files = new List<string>();
        foreach (string path in paths)
        {
            if (File.Exists(path))
                files.Add(IsText(path) || IsJsonLines(path) ? path
                    : throw UnknownKind(path));
            else if (Directory.Exists(path))
            {
                var inFolder = Directory.GetFiles(path).Where(f => IsText(f) || IsJsonLines(f)).Order(StringComparer.Ordinal).ToList();
                if (inFolder.Count == 0)
                    throw new DataException(path, null, null, "folder holds no .txt or .jsonl files");
                files.AddRange(inFolder);
            }
            else
                throw new DataException(path, null, null, "file not found");
        }
        if (files.Count == 0)
            throw new ArgumentException("no data files given", nameof(paths));
        return files;
    }

    /// <summary>The error for data that gave no sample to train on.</summary>
    public static DataException NoSamples(IReadOnlyList<string> files, DataStats stats) =>
        new(string.Join(", ", files), null, null, $"no samples to train on ({stats.Skipped} empty ones skipped)");

    public static DataException UnknownKind(string file) =>
        new(file, null, null, "unknown kind of file; expected .txt (one document) or .jsonl (one document a line)");

    public static bool IsText(string file) => file.EndsWith(".txt", StringComparison.OrdinalIgnoreCase);

    public static bool IsJsonLines(string file) => file.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);
}
