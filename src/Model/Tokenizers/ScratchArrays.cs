using System.Buffers;

namespace RawLongLoRA.Model;

/// <summary>
/// Scratch arrays of the BPE: from the shared pool up to 4M elements (a line of 2M letters takes
/// arrays from the pool like one of 1M, not new ones that the GC must collect), plain allocations
/// above, which the GC takes back, so that one 50 MB line does not leave hundreds of megabytes parked
/// in the pool.
/// </summary>
internal static class ScratchArrays
{
    private const int MaxPooled = 1 << 22;

    public static T[] Rent<T>(int length) =>
        length <= MaxPooled ? ArrayPool<T>.Shared.Rent(length) : GC.AllocateUninitializedArray<T>(length);

    public static void Return<T>(T[] array)
    {
        if (array.Length <= MaxPooled)
            ArrayPool<T>.Shared.Return(array);
    }
}
