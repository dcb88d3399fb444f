using RawLongLoRA.Distributed;
using Xunit;

namespace RawLongLoRA.Tests.Distributed;

public sealed class CountingCommunicatorTests
{
    // Four ranks, float32 (4 bytes): every expected count below is worked by hand from the class summary's rules.
    [Fact]
    public void CountsEachKindOfCallAsTheFormulasAssume() => ThreadGroup.Run(4, world =>
    {
        using var scope = new DisposeScope();
        var counting = new CountingCommunicator(world);
        int r = counting.Rank;

        // Ring all-reduce of 8 floats (32 B): 2 · 3/4 · 32 = 48 B out and in; the sum still arrives.
        var sum = Tensor.Full([8], r + 1);
        counting.AllReduce(sum);
        Assert.Equal(10f, sum.AsSpan<float>()[0]);
        Assert.Equal(new Traffic(1, 48, 48), counting.Counts[CommOp.AllReduce]);
        // The started kind (data parallelism's gradient buckets) counts apart.
        counting.StartAllReduce(Tensor.Zeros([8])).Wait();
        Assert.Equal(new Traffic(1, 48, 48), counting.Counts[CommOp.AllReduce]);
        Assert.Equal(new Traffic(1, 48, 48), counting.Counts[CommOp.StartAllReduce]);

        // All-gather into 4 × 2 floats (32 B) and reduce-scatter of 8 floats: 3/4 · 32 = 24 B each way.
        counting.AllGather(Tensor.Zeros([8]), Tensor.Zeros([2]));
        counting.ReduceScatter(Tensor.Zeros([2]), Tensor.Zeros([8]));
        Assert.Equal(new Traffic(1, 24, 24), counting.Counts[CommOp.AllGather]);
        Assert.Equal(new Traffic(1, 24, 24), counting.Counts[CommOp.ReduceScatter]);

        // Every rank sends j + 1 floats to rank j, so it receives r + 1 from each: its own run stays home.
        int[] send = [1, 2, 3, 4], receive = [r + 1, r + 1, r + 1, r + 1];
        counting.AllToAll(Tensor.Zeros([4 * (r + 1)]), receive, Tensor.Zeros([10]), send);
        Assert.Equal(new Traffic(1, 4 * (10 - (r + 1)), 4 * 3 * (r + 1)), counting.Counts[CommOp.AllToAll]);

        // The ring step: 3 floats to the next rank, 3 from the one before.
        counting.StartSendReceive(Tensor.Zeros([3]), (r + 1) % 4, Tensor.Zeros([3]), (r + 3) % 4).Wait();
        Assert.Equal(new Traffic(1, 12, 12), counting.Counts[CommOp.SendReceive]);

        // Broadcast of 5 floats from rank 1: it sends 20 B to each of the 3 others.
        counting.Broadcast(Tensor.Zeros([5]), root: 1);
        Assert.Equal(r == 1 ? new Traffic(1, 60, 0) : new Traffic(1, 0, 20), counting.Counts[CommOp.Broadcast]);

        // Rank 0 sends 6 floats to rank 1.
        if (r == 0)
            counting.Send(Tensor.Zeros([6]), 1);
        if (r == 1)
            counting.Receive(Tensor.Zeros([6]), 0);
        Assert.Equal(r == 0 ? new Traffic(1, 24, 0) : default, counting.Counts.GetValueOrDefault(CommOp.Send));
        Assert.Equal(r == 1 ? new Traffic(1, 0, 24) : default, counting.Counts.GetValueOrDefault(CommOp.Receive));

        counting.Barrier();
        Assert.Equal(new Traffic(1, 0, 0), counting.Counts[CommOp.Barrier]);
        long sent = 96 + 24 + 24 + 4 * (10 - (r + 1)) + 12 + (r == 1 ? 60 : 0) + (r == 0 ? 24 : 0);
        Assert.Equal(sent, counting.Total.SentBytes);
    });

    [Fact]
    public void SplitGroupsCountApartAndResetForgets() => ThreadGroup.Run(4, world =>
    {
        using var scope = new DisposeScope();
        var counting = new CountingCommunicator(world);
        var pair = Assert.IsType<CountingCommunicator>(counting.Split(counting.Rank / 2, counting.Rank));
        // A pair's all-reduce of 4 floats (16 B): 2 · 1/2 · 16 = 16 B each way, on the pair's count only.
        pair.AllReduce(Tensor.Zeros([4]));
        Assert.Equal(new Traffic(1, 16, 16), pair.Total);
        Assert.Empty(counting.Counts);
        pair.Reset();
        Assert.Equal(default, pair.Total);
    });
}
