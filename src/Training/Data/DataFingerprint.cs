using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace RawLongLoRA.Training;

/// <summary>
/// A hash of what a run trains on: every sample's ids and prompt length, in order. Two runs with one fingerprint
/// pack the same rows, whatever files or token cache the samples came from.
/// </summary>
internal static class DataFingerprint
{
    /// <summary>SHA-256 of the samples, as lower-case hex.</summary>
    public static string Of(SampleTokens samples)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<int> header = stackalloc int[2];
        for (long s = 0; s < samples.Count; s++)
        {
            var ids = samples.Ids(s);
            // The length and prompt length first, so that samples split differently hash differently.
            (header[0], header[1]) = (ids.Length, samples.PromptLength(s));
            hash.AppendData(MemoryMarshal.AsBytes(header));
            hash.AppendData(MemoryMarshal.AsBytes(ids));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
