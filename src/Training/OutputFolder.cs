namespace RawLongLoRA.Training;

/// <summary>
/// A run's output folder, claimed before anything is written into it. One that exists and holds
/// anything is refused, so that a reused name neither mixes two runs nor loses one, unless the caller
/// overwrites: then only what such a run writes (<c>written</c>: names or wildcard patterns) is deleted,
/// never a file it does not know.
/// </summary>
public static class OutputFolder
{
    /// <summary>Creates <paramref name="dir"/> or clears a run out of it; <paramref name="refusal"/> finishes the error's sentence.</summary>
    public static void Claim(string dir, IReadOnlyList<string> written, bool overwrite, string refusal)
    {
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
        {
            if (!overwrite)
                throw new IOException($"{dir} exists and is not empty; {refusal}");
            foreach (string pattern in written)
                foreach (string path in Directory.EnumerateFileSystemEntries(dir, pattern))
                {
                    if (Directory.Exists(path))
                        Directory.Delete(path, recursive: true);
                    else
                        File.Delete(path);
                }
        }
        else if (File.Exists(dir))
            throw new IOException($"{dir} is a file; the output must be a folder");
        Directory.CreateDirectory(dir);
    }
}
