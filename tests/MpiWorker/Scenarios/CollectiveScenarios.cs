using RawLongLoRA.Distributed;

namespace RawLongLoRA.MpiWorker;

/// <summary>
/// Every <see cref="ICommunicator"/> member on known values, at any number of ranks: the tests run it under mpirun
/// (<see cref="MpiCommunicator"/>) and on in-process ranks. Outputs start poisoned (NaN, or a sentinel) so that an
/// element a call leaves unwritten fails the check.
/// </summary>
internal static class CollectiveScenarios
{
    private const float Poison = float.NaN;

    [Scenario("collectives")]
    public static void Collectives(ICommunicator world, string[] args)
    {
        Reductions(world);
        Gathers(world);
        AllToAllUneven(world);
        PointToPoint(world);
        Broadcast(world);
        BadInput(world);
        world.Barrier();
        Grid(world);
        // Every rank of these jobs runs on this machine.
        if (world is MpiCommunicator mpi)
            Check.Equal(world, "local rank", world.Rank, mpi.LocalRank);
        if (world.Rank == 0)
            Console.WriteLine($"collectives: {world.Size} ranks, every member checked");
    }

    private static void Reductions(ICommunicator c)
    {
        int n = c.Size, r = c.Rank;
        float rankSum = n * (n - 1) / 2f;
        using var f = Tensor.FromArray([r, r + 0.5f, -2f * r]);
        c.AllReduce(f);
        Check.Equal(c, "all_reduce sum F32", [rankSum, rankSum + 0.5f * n, -2f * rankSum], f);

        using var avg = Tensor.FromArray([r * 2f, 1f]);
        c.AllReduce(avg, ReduceKind.Avg);
        Check.Equal(c, "all_reduce avg F32", [rankSum * 2f / n, 1f], avg);

        using var i32 = Tensor.FromArray([r + 1f, -r], dtype: DType.I32);
        c.AllReduce(i32);
        Check.Equal(c, "all_reduce sum I32", [(int)rankSum + n, -(int)rankSum], i32);

        // Values past 2^32 show that I64 is reduced as 64-bit.
        using var i64 = Tensor.Empty([2], DType.I64);
        i64.AsSpan<long>()[0] = (1L << 40) + r;
        i64.AsSpan<long>()[1] = 4L * n;
        c.AllReduce(i64, ReduceKind.Avg);
        Check.Equal(c, "all_reduce avg I64", [(1L << 40) + (long)rankSum / n, 4L * n], i64);

        using var started = Tensor.FromArray([1f, r]);
        var request = c.StartAllReduce(started);
        request.Wait();
        Check.Equal(c, "start_all_reduce", [(float)n, rankSum], started);

        // src [n · 2]: element k of rank q is 100q + k; this rank's slice is k = 2r, 2r + 1.
        using var src = Tensor.FromArray([.. Enumerable.Range(0, 2 * n).Select(k => 100f * r + k)]);
        using var dst = Tensor.Full([2], Poison);
        c.ReduceScatter(dst, src);
        Check.Equal(c, "reduce_scatter sum", [100 * rankSum + n * 2 * r, 100 * rankSum + n * (2 * r + 1)], dst);
        c.ReduceScatter(dst, src, ReduceKind.Avg);
        Check.Equal(c, "reduce_scatter avg", [(100 * rankSum + n * 2 * r) / n, (100 * rankSum + n * (2 * r + 1)) / n], dst);
    }

    private static void Gathers(ICommunicator c)
    {
        int n = c.Size, r = c.Rank;
        using var src = Tensor.FromArray([10f * r, 10f * r + 1, 10f * r + 2]);
        using var dst = Tensor.Full([3 * n], Poison);
        c.AllGather(dst, src);
        Check.Equal(c, "all_gather F32", [.. Enumerable.Range(0, n).SelectMany(q => new[] { 10f * q, 10f * q + 1, 10f * q + 2 })], dst);

        // BF16 is not reduced but moves as 2-byte elements: bit patterns that are not small numbers.
        using var bits = Tensor.Empty([2], DType.BF16);
        bits.AsSpan<ushort>()[0] = (ushort)(0xA000 + r);
        bits.AsSpan<ushort>()[1] = 0x7F80;
        using var gathered = Tensor.Zeros([2 * n], DType.BF16);
        c.AllGather(gathered, bits);
        Check.Equal(c, "all_gather BF16 bits", [.. Enumerable.Range(0, n).SelectMany(q => new[] { (ushort)(0xA000 + q), (ushort)0x7F80 })], gathered);
    }

    /// <summary>How many elements rank <paramref name="from"/> sends rank <paramref name="to"/>: uneven, some none.</summary>
    private static int Count(int from, int to) => (from + 2 * to) % 3;

    private static void AllToAllUneven(ICommunicator c)
    {
        int n = c.Size, r = c.Rank;
        int[] send = [.. Enumerable.Range(0, n).Select(j => Count(r, j))], receive = [.. Enumerable.Range(0, n).Select(j => Count(j, r))];
        // Element m of the run from q to j is 1000q + 10j + m.
        using var src = Tensor.FromArray([.. Enumerable.Range(0, n).SelectMany(j => Enumerable.Range(0, send[j]).Select(m => 1000f * r + 10 * j + m))]);
        using var dst = Tensor.Full([receive.Sum()], Poison);
        c.AllToAll(dst, receive, src, send);
        Check.Equal(c, "all_to_all uneven", [.. Enumerable.Range(0, n).SelectMany(q => Enumerable.Range(0, receive[q]).Select(m => 1000f * q + 10 * r + m))], dst);
    }

    private static void PointToPoint(ICommunicator c)
    {
        int n = c.Size, r = c.Rank;
        using var sent = Tensor.FromArray([1f, 2, 3, 4, 5]);
        using var three = Tensor.FromArray([1f, 2, 3]);
        if (r == 0)
            c.Send(sent, n - 1, tag: 7);
        if (r == n - 1)
        {
            using var got = Tensor.Full([5], Poison);
            c.Receive(got, 0, tag: 7);
            Check.Equal(c, "send/receive 0 → last", [1f, 2, 3, 4, 5], got);
        }

        // A message shorter than the receive expects is an error, not a half-filled tensor.
        if (r == 0)
            c.Send(three, 1, tag: 9);
        if (r == 1)
        {
            using var five = Tensor.Full([5], Poison);
            Check.Refuses<CommunicatorException>(c, "receive of a short message", () => c.Receive(five, 0, tag: 9), "receive: rank 0 sent 3 elements; rank 1 expects 5");
        }

        // One ring step: every rank sends right and receives from the left.
        int right = (r + 1) % n, left = (r + n - 1) % n;
        using var mine = Tensor.FromArray([r, r + 0.5f]);
        using var theirs = Tensor.Full([2], Poison);
        var step = c.StartSendReceive(mine, right, theirs, left, tag: 3);
        step.Wait();
        Check.Equal(c, "start_send_receive ring", [left, left + 0.5f], theirs);
    }

    private static void Broadcast(ICommunicator c)
    {
        int root = c.Size - 1;
        using var t = c.Rank == root ? Tensor.FromArray([3.5f, -1, 7]) : Tensor.Full([3], Poison);
        c.Broadcast(t, root);
        Check.Equal(c, $"broadcast from rank {root}", [3.5f, -1, 7], t);
    }

    /// <summary>Every rank refuses the same bad calls before moving anything, so the group stays in step.</summary>
    private static void BadInput(ICommunicator c)
    {
        int n = c.Size;
        using var matrix = Tensor.Zeros([2, 3]);
        using var transposed = matrix.Transpose(0, 1);
        Check.Refuses(c, "all_reduce of a non-contiguous view", () => c.AllReduce(transposed), "all_reduce: tensor [3, 2] is not contiguous");
        using var bf16 = Tensor.Zeros([2], DType.BF16);
        Check.Refuses(c, "all_reduce of BF16", () => c.AllReduce(bf16), "all_reduce: cannot reduce BF16");
        using var part = Tensor.Zeros([3]);
        using var wrong = Tensor.Zeros([3 * n + 1]);
        Check.Refuses(c, "all_gather into a wrong size", () => c.AllGather(wrong, part), $"all_gather: dst has {3 * n + 1} elements; expected {n} ranks × 3 (src) = {3 * n}");
        using var ints = Tensor.Zeros([3 * n], DType.I32);
        Check.Refuses(c, "reduce_scatter across dtypes", () => c.ReduceScatter(part, ints), "reduce_scatter: dst is I32 and src is F32");
        int[] perRank = [.. Enumerable.Repeat(3, n)], tooMany = [.. Enumerable.Repeat(3, n + 1)], offByOne = [.. Enumerable.Repeat(3, n - 1), 4];
        using var whole = Tensor.Zeros([3 * n]);
        Check.Refuses(c, "all_to_all with a count per rank too many", () => c.AllToAll(whole, perRank, whole, tooMany), $"all_to_all: sendCounts has {n + 1} entries; expected one per rank ({n})");
        Check.Refuses(c, "all_to_all with counts that miss the tensor", () => c.AllToAll(whole, offByOne, whole, perRank), $"all_to_all: receiveCounts add up to {3 * n + 1} elements but dst has {3 * n}");
        Check.Refuses(c, "send to a rank past the group", () => c.Send(part, n), $"send: peer {n} is not a rank of this group (0 … {n - 1})");
        Check.Refuses(c, "receive with a negative tag", () => c.Receive(part, 0, tag: -1), "receive: tag -1 is outside 0 … 32767");
        Check.Refuses(c, "broadcast from rank -1", () => c.Broadcast(part, -1), $"broadcast: root -1 is not a rank of this group");
        Check.Refuses(c, "split with a negative colour", () => c.Split(-1, 0), "split: color -1 is negative");
    }

    /// <summary>A DP × SP grid (SP groups of 2 consecutive ranks), collectives on both, and a split that reverses order by key.</summary>
    private static void Grid(ICommunicator world)
    {
        int n = world.Size, r = world.Rank, sp = 2, dp = n / sp;
        using var spGroup = world.Split(color: r / sp, key: r);
        using var dpGroup = world.Split(color: r % sp, key: r);
        Check.Equal(world, "sp group size", sp, spGroup.Size);
        Check.Equal(world, "sp group rank", r % sp, spGroup.Rank);
        Check.Equal(world, "dp group size", dp, dpGroup.Size);
        Check.Equal(world, "dp group rank", r / sp, dpGroup.Rank);

        using var ranks = Tensor.FromArray([(float)r]);
        spGroup.AllReduce(ranks);
        int first = r / sp * sp;
        Check.Equal(spGroup, "all_reduce on the sp group", [(float)(first + first + 1)], ranks);
        using var members = Tensor.Full([dp], Poison);
        using var mine = Tensor.FromArray([(float)r]);
        dpGroup.AllGather(members, mine);
        Check.Equal(dpGroup, "all_gather on the dp group", [.. Enumerable.Range(0, dp).Select(q => (float)(q * sp + r % sp))], members);

        using var reversed = world.Split(color: 0, key: n - r);
        Check.Equal(world, "split ordered by key", n - 1 - r, reversed.Rank);
        reversed.Barrier();
    }
}
