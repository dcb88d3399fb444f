using System.Collections.Concurrent;

namespace RawLongLoRA.Model;

/// <summary>
/// The ids of words seen before, shared by the threads that encode with one tokenizer: lock-free reads,
/// and, as in Hugging Face, words of fewer than 256 characters only and no eviction — once full it
/// keeps what it has, the common words, which come first in any sizeable text.
/// </summary>
internal sealed class WordCache
{
    private const int Capacity = 1 << 16, MaxWordLength = 256;

    private readonly ConcurrentDictionary<string, int[]> _words = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private int _count;

    public WordCache() => _lookup = _words.GetAlternateLookup<ReadOnlySpan<char>>();

    public bool TryGet(ReadOnlySpan<char> word, out int[] ids) => _lookup.TryGetValue(word, out ids!);

    public void Add(ReadOnlySpan<char> word, ReadOnlySpan<int> ids)
    {
        if (word.Length < MaxWordLength && Volatile.Read(ref _count) < Capacity && _lookup.TryAdd(word, ids.ToArray()))
            Interlocked.Increment(ref _count);
    }
}
