using System.Runtime.CompilerServices;

namespace RawLongLoRA.Tests;

/// <summary>The checkout the tests were built from (tests run from it), for tests that build its samples or read its README.</summary>
internal static class Repository
{
    public static string Root => Path.GetFullPath(Path.Combine(SourceDir(), "..", ".."));

    private static string SourceDir([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
