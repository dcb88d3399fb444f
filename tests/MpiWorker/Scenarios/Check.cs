using System.Globalization;
using RawLongLoRA.Distributed;

namespace RawLongLoRA.MpiWorker;

/// <summary>The checks scenarios make: a failed one throws, naming the rank, what was checked, and both values.</summary>
internal static class Check
{
    /// <summary><paramref name="actual"/>'s elements equal <paramref name="expected"/> exactly (the scenarios move exact values).</summary>
    public static void Equal<T>(ICommunicator group, string what, IReadOnlyList<T> expected, Tensor actual) where T : unmanaged, IEquatable<T>
    {
        var got = actual.ToArray<T>();
        if (!got.SequenceEqual(expected))
            throw new InvalidOperationException($"{what} on rank {group.Rank} of {group.Size}: expected [{Show(expected)}], got [{Show(got)}]");
    }

    /// <summary><paramref name="actual"/> equals <paramref name="expected"/>.</summary>
    public static void Equal<T>(ICommunicator group, string what, T expected, T actual)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
            throw new InvalidOperationException($"{what} on rank {group.Rank} of {group.Size}: expected {expected}, got {actual}");
    }

    private static string Show<T>(IEnumerable<T> values) => string.Join(", ", values.Select(v => string.Format(CultureInfo.InvariantCulture, "{0}", v)));

    /// <summary><paramref name="call"/> refuses with an <see cref="ArgumentException"/> whose message holds <paramref name="message"/>.</summary>
    public static void Refuses(ICommunicator group, string what, Action call, string message) => Refuses<ArgumentException>(group, what, call, message);

    /// <summary><paramref name="call"/> throws <typeparamref name="TError"/> with a message that holds <paramref name="message"/>.</summary>
    public static void Refuses<TError>(ICommunicator group, string what, Action call, string message) where TError : Exception
    {
        try
        {
            call();
        }
        catch (TError e) when (e.Message.Contains(message, StringComparison.Ordinal))
        {
            return;
        }
        catch (TError e)
        {
            throw new InvalidOperationException($"{what} on rank {group.Rank}: refused with '{e.Message}', expected a message with '{message}'", e);
        }
        throw new InvalidOperationException($"{what} on rank {group.Rank}: was accepted; expected a refusal with '{message}'");
    }
}
