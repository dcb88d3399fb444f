using RawLongLoRA.Cli;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>rawlora train's parallel options: one clear line for --sp without mpirun and for sizes that do not divide.</summary>
[Collection(SerialCollection.Name)]
public class ParallelCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rawlora-sp-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Sp_without_mpirun_is_one_line_naming_the_launch_it_needs()
    {
        var options = TinyModelFolder.RunOptions(_dir, "run", 1);
        var (code, output, err) = CliTests.Run("train", "--model", options.Model, "--data", options.Data[0], "--output", options.Output,
                                               "--max-length", "32", "--sp", "ring", "--sp-size", "2");
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal("rawlora: error: train: --sp ring shares each row among ranks, but this is a single process; launch it as `mpirun -np N rawlora train ... --sp ring --sp-size K`",
                     err.TrimEnd());
        Assert.False(Directory.Exists(options.Output));
    }

    [Fact]
    public void Sizes_that_do_not_divide_name_both_numbers()
    {
        Assert.Equal("train: --sp-size 3 does not divide the 4 ranks mpirun started; give -np a multiple of it",
                     Assert.Throws<ArgumentException>(() => CliWorld.CheckSizes("train", 4, "ring", 3, 8)).Message);
        Assert.Equal("train: --sp ulysses gives each of the 4 ranks (--sp-size) a share of the model's 6 attention heads; 4 must divide 6",
                     Assert.Throws<ArgumentException>(() => CliWorld.CheckSizes("train", 4, "ulysses", 4, 6)).Message);
        CliWorld.CheckSizes("train", 4, "ring", 4, 6); // Ring shares positions, not heads
    }
}
