using RawLongLoRA.Distributed;
using Xunit;

namespace RawLongLoRA.Tests.Distributed;

/// <summary>The MPI world outside mpirun: one clear line, and libmpi never loaded; the library search and the timeout setting.</summary>
public sealed class MpiWorldTests
{
    [LinuxFact]
    public void OutsideMpirunTheWorldSaysHowToStartAndLibmpiIsNeverLoaded()
    {
        Assert.False(Mpi.IsLaunched, "the test process is not a rank of an MPI job");
        var e = Assert.Throws<InvalidOperationException>(() => Mpi.World());
        Assert.StartsWith("mpi: this process was not started by mpirun or srun (none of OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_RANK, PMI_SIZE is set)", e.Message);
        Assert.DoesNotContain(File.ReadLines("/proc/self/maps"), l => l.Contains("libmpi", StringComparison.Ordinal));
    }

    [Fact]
    public void WorkerStartedWithoutMpirunExitsWithThatLine()
    {
        var (exitCode, output) = ChildProcess.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "RawLongLoRA.MpiWorker.dll"), "collectives"], AppContext.BaseDirectory,
                                                  new Dictionary<string, string> { ["OMPI_COMM_WORLD_SIZE"] = "", ["PMIX_RANK"] = "", ["PMI_RANK"] = "", ["PMI_SIZE"] = "" }, timeoutSeconds: 60);
        Assert.Equal(3, exitCode);
        Assert.Contains("mpi: this process was not started by mpirun or srun", output);
    }

    [Fact]
    public void MissingLibmpiNamesWhereItLookedAndWhatToInstall()
    {
        var places = DistributedLibraries.Places(DistributedLibraries.Mpi, v => v == "RAWLORA_MPI_LIB" ? "/opt/custom/libmpi.so.40" : null);
        Assert.Equal("/opt/custom", places[0]);
        var e = Assert.Throws<DllNotFoundException>(() => DistributedLibraries.Find(DistributedLibraries.Mpi, ["/opt/custom", null], _ => null));
        Assert.Equal("OpenMPI (libmpi.so.40) was not found; searched, in order: /opt/custom, the system's loader (ldconfig cache, LD_LIBRARY_PATH); " +
                     "install it with `apt-get install openmpi-bin libopenmpi-dev`.", e.Message);
    }

    [Theory]
    [InlineData(null, 600)]
    [InlineData("2", 2)]
    [InlineData("0.5", 0.5)]
    public void TimeoutComesFromTheEnvironment(string? value, double seconds) => Assert.Equal(TimeSpan.FromSeconds(seconds), Mpi.DefaultTimeout(value));

    [Theory]
    [InlineData("soon")]
    [InlineData("0")]
    [InlineData("-3")]
    public void BadTimeoutIsRefused(string value)
        => Assert.Equal($"mpi: RAWLORA_COMM_TIMEOUT='{value}' is not a positive number of seconds", Assert.Throws<ArgumentException>(() => Mpi.DefaultTimeout(value)).Message);
}
