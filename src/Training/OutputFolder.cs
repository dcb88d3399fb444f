namespace RawLongLoRA.Training;

/// <summary>
/// A run's output folder, claimed before anything is written into it. One that exists and holds
/// anything is refused, so that a reused name neither mixes two runs nor loses one, unless the caller
/// overwrites: then only what such a run writes (<c>written</c>: names or wildcard patterns) is deleted,
/// never a file it does not know. A folder that holds only what a run leaves before it has anything to
/// keep (<c>leftovers</c>) is a failed start: it is cleared the same way without being asked, so the
/// same command can simply be run again.
/// </summary>
internal static class OutputFolder
{
    /// <summary>
    /// Creates <paramref name="dir"/> or clears a run out of it; <paramref name="refusal"/> finishes the
    /// error's sentence. True when it cleared a failed start's files.
    /// </summary>
    public static bool Claim(string dir, IReadOnlyList<string> written, bool overwrite, string refusal, IReadOnlyList<string>? leftovers = null)
    {
        bool cleared = false;
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
        {
            var left = (leftovers ?? []).SelectMany(p => Directory.EnumerateFileSystemEntries(dir, p)).ToHashSet();
            bool failedStart = Directory.EnumerateFileSystemEntries(dir).All(left.Contains);
            if (!overwrite && !failedStart)
                throw new IOException($"{dir} exists and is not empty; {refusal}");
            foreach (string pattern in written)
                foreach (string path in Directory.EnumerateFileSystemEntries(dir, pattern))
                {
                    cleared = true;
                    if (Directory.Exists(path))
                        Directory.Delete(path, recursive: true);
                    else
                        File.Delete(path);
                }
        }
        else if (File.Exists(dir))
            throw new IOException($"{dir} is a file; the output must be a folder");
        Directory.CreateDirectory(dir);
        return cleared && !overwrite;
    }
}
