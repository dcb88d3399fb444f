namespace RawLongLoRA.Tests;

/// <summary>Finds a program on the PATH, for tests that run an outside tool (ptxas, g++) only where it is installed.</summary>
internal static class ProgramPath
{
    /// <summary>The full path of <paramref name="name"/> in the first PATH folder that has it, or null.</summary>
    public static string? Find(string name) => (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(d => Path.Combine(d, name))
        .FirstOrDefault(File.Exists);
}
