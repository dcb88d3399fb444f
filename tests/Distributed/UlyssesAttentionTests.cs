using RawLongLoRA.Distributed;
using RawLongLoRA.Model;
using RawLongLoRA.MpiWorker;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Ulysses attention on in-process ranks (ThreadGroup) equals one process's attention over the whole tensors, in o
/// and in dq, dk, dv, for every case of the "ulysses" scenario at 2, 3 and 4 ranks; its all-to-all moves exactly the
/// right values; sizes it cannot split, and calls it cannot serve, fail with one clear error. The scenario runs under
/// mpirun too, at 2 and 4 ranks.
/// </summary>
[Collection(MpiRun.Collection)]
public class UlyssesAttentionTests
{
    [MpiTheory]
    [InlineData(2)]
    [InlineData(4)]
    public void EqualsOneProcessUnderMpirun(int ranks)
        => Assert.Contains($"ulysses: {ranks} ranks, {UlyssesScenarios.Cases(ranks).Count()} cases equal one process", MpiRun.Pass(ranks, "ulysses"));

    public static TheoryData<int, string> RanksAndCases()
    {
        var data = new TheoryData<int, string>();
        foreach (int ranks in new[] { 2, 3, 4 })
            foreach (var c in UlyssesScenarios.Cases(ranks))
                data.Add(ranks, c.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(RanksAndCases))]
    public void EqualsOneProcess(int ranks, string name)
        => ThreadGroup.Run(ranks, group => UlyssesScenarios.Run(group, UlyssesScenarios.Cases(ranks).Single(c => c.Name == name)));

    /// <summary>
    /// Each rank's head shard is the whole tensor's heads at every position, bit for bit (rows of 10 on 4 ranks: shards
    /// of 2 and 3), replicated heads included; and the way back restores each rank's shard, summing a head's copies.
    /// </summary>
    [Theory]
    [InlineData(4, 8, false)]
    [InlineData(4, 2, true)]
    public void AllToAllMovesTheRightValues(int ranks, int heads, bool replicated)
        => ThreadGroup.Run(ranks, group =>
        {
            using var scope = new DisposeScope();
            const int b = 2, t = 10, d = 3;
            var shards = new SequenceShards(t, ranks, zigZag: false);
            (int, int)[] windows = replicated
                ? [.. Enumerable.Range(0, ranks).Select(r => (r / (ranks / heads), 1))]
                : [.. Enumerable.Range(0, ranks).Select(r => (r * heads / ranks, heads / ranks))];
            var exchange = new SequenceToHeads(group, shards, windows, heads);
            var whole = Tensor.Randn([b, t, heads, d], new Generator(7));
            var (start, length) = shards.Block(group.Rank);
            var mine = whole.Narrow(1, start, length).Contiguous();
            var (h0, hn) = windows[group.Rank];

            var byHeads = exchange.ToHeads(mine);
            Assert.Equal(whole.Narrow(2, h0, hn).ToFloatArray(), byHeads.ToFloatArray());
            var back = exchange.ToSequence(byHeads);
            int copies = ranks * windows[0].Item2 / heads;
            Assert.Equal((mine * copies).ToFloatArray(), back.ToFloatArray());
        });

    [Fact]
    public void QueryHeadsThatDoNotDivide()
        => Fails(4, new Call(T: 8, Hq: 6, Hkv: 6), "ulysses_attention", "Hq = 6", "group size (4)");

    [Fact]
    public void KvHeadsAndRanksThatDoNotDivideEachOther()
        => Fails(4, new Call(T: 8, Hq: 12, Hkv: 3), "ulysses_attention", "3 KV heads", "4 ranks", "Hq = 12");

    [Fact]
    public void RowLengthNotGiven()
        => Fails(2, new Call(T: 8, Hq: 4, Hkv: 2, Spec: new AttentionSpec()), "ulysses_attention", "RowLength", "got 0");

    [Fact]
    public void KvCacheCall()
        => Fails(2, new Call(T: 8, Hq: 4, Hkv: 2, Keys: 6), "ulysses_attention", "same positions", "KV cache");

    [Fact]
    public void ShardOfTheWrongLength()
        => Fails(2, new Call(T: 9, Hq: 4, Hkv: 2, Tokens: 3), "ulysses_attention", "holds positions [", "9-token row", "q has 3");

    /// <summary>
    /// q [1, Tokens (default: the rank's shard), Hq, 4] and k, v [1, Keys (default: Tokens), Hkv, 4] for rows of T, with
    /// <see cref="Spec"/> (default: RowLength = T).
    /// </summary>
    private sealed record Call(int T, int Hq, int Hkv, AttentionSpec? Spec = null, int? Keys = null, int? Tokens = null);

    /// <summary>Every rank makes <paramref name="call"/>; each must fail with an ArgumentException mentioning <paramref name="mentions"/>.</summary>
    private static void Fails(int ranks, Call call, params string[] mentions)
        => ThreadGroup.Run(ranks, group =>
        {
            using var scope = new DisposeScope();
            int n = call.Tokens ?? new SequenceShards(call.T, ranks, zigZag: false).LocalLength(group.Rank);
            var q = Tensor.Randn([1, n, call.Hq, 4], new Generator(1));
            var k = Tensor.Randn([1, call.Keys ?? n, call.Hkv, 4], new Generator(2));
            var e = Assert.Throws<ArgumentException>(() => new UlyssesAttention(group).Forward(q, k, k, call.Spec ?? new AttentionSpec { RowLength = call.T }));
            foreach (var m in mentions)
                Assert.True(e.Message.Contains(m, StringComparison.Ordinal), $"message should mention \"{m}\": {e.Message}");
        });
}
