namespace RawLongLoRA.Cli;

/// <summary>
/// Where a verb will write, checked before it starts work: an evaluation or a training run must not fail
/// at its end because its output is a folder, lacks its parent folder or cannot be written.
/// </summary>
internal static class OutputPaths
{
    /// <summary>A file to create or replace; its folder must exist.</summary>
    public static void File(string path, string option)
    {
        if (Directory.Exists(path))
            throw new IOException($"{option}: {path} is a folder; expected a file name");
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(folder))
            throw new IOException($"{option}: {path}: {(System.IO.File.Exists(folder) ? $"{folder} is a file, not a folder" : $"the folder {folder} does not exist")}");
        Probe(path, option, folder);
    }

    /// <summary>A folder to write into, created with its parents where missing; whether one in use may be reused is the verb's rule.</summary>
    public static void Folder(string path, string option)
    {
        string? existing = Path.GetFullPath(path);
        while (existing is not null && !Directory.Exists(existing))
        {
            if (System.IO.File.Exists(existing))
                throw new IOException($"{option}: {existing} is a file; expected a folder");
            existing = Path.GetDirectoryName(existing);
        }
        Probe(path, option, existing!);
    }

    /// <summary>A folder that must be new, or empty: the verb writes a whole model there.</summary>
    public static void NewFolder(string path, string option)
    {
        Folder(path, option);
        if (Directory.Exists(path) && Directory.EnumerateFileSystemEntries(path).Any())
            throw new IOException($"{option}: {path} exists and is not empty; choose a new folder");
    }

    /// <summary>
    /// Opens the file the verb will write, or where there is none yet a scratch file in <paramref name="folder"/>
    /// (deleted on close), and closes it: nothing is changed.
    /// </summary>
    private static void Probe(string path, string option, string folder)
    {
        bool exists = System.IO.File.Exists(path);
        string opened = exists ? path : Path.Combine(folder, $".rawlora-probe-{Guid.NewGuid():N}");
        try
        {
            using var stream = exists
                ? new FileStream(opened, FileMode.Open, FileAccess.Write)
                : new FileStream(opened, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string reason = e switch
            {
                UnauthorizedAccessException => "permission denied",
                FileNotFoundException or DirectoryNotFoundException => $"no file can be created in {folder}",
                _ => e.Message.Replace(opened, path, StringComparison.Ordinal),
            };
            throw new IOException($"{option}: {path} cannot be written ({reason})", e);
        }
    }
}
