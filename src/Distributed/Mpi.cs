using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using static RawLongLoRA.Distributed.MpiNative;

namespace RawLongLoRA.Distributed;

/// <summary>
/// The MPI job this process belongs to: whether a launcher (mpirun, srun) started it, its world communicator, and how a
/// failing rank stops the others. A process that is not launched never loads libmpi.
/// </summary>
public static unsafe class Mpi
{
    /// <summary>The environment variable that sets communicators' default timeout, in seconds.</summary>
    public const string TimeoutVariable = "RAWLORA_COMM_TIMEOUT";

    /// <summary>Variables that mpirun (OpenMPI), PMIx and PMI launchers (srun through MPI, MPICH's Hydra) set in every rank.</summary>
    private static readonly string[] LaunchVariables = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"];

    private static readonly string[] LocalRankVariables = ["OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"];

    private static readonly Lock Gate = new();
    private static MpiCommunicator? _world;
    private static volatile bool _failed;

    /// <summary>Whether a launcher started this process as a rank of an MPI job (it looks only at the environment).</summary>
    public static bool IsLaunched => LaunchVariables.Any(v => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(v)));

    /// <summary>Whether <see cref="Shutdown"/> has run.</summary>
    public static bool Finalized { get; private set; }

    /// <summary>
    /// The communicator of every rank of the job: MPI is initialised on the first call (once per process) and finalised
    /// by <see cref="Shutdown"/>, disposing the world, or at exit. Throws <see cref="InvalidOperationException"/> when
    /// no launcher started this process, and <see cref="DllNotFoundException"/> (one line: where it looked, what to
    /// install) when libmpi.so.40 is missing.
    /// </summary>
    public static MpiCommunicator World()
    {
        lock (Gate)
        {
            if (_world is not null)
                return _world;
            if (Finalized)
                throw new InvalidOperationException("mpi: MPI was finalised in this process; it cannot start again");
            if (!IsLaunched)
                throw new InvalidOperationException(
                    $"mpi: this process was not started by mpirun or srun (none of {string.Join(", ", LaunchVariables)} is set); start it with `mpirun -np N ...`");
            var timeout = DefaultTimeout(Environment.GetEnvironmentVariable(TimeoutVariable));
            DistributedLibraries.Load(DistributedLibraries.Mpi);
            using (MpiCommunicator.Gate.EnterScope())
            {
                int code = MPI_Init_thread(null, null, ThreadSerialized, out int provided);
                if (code != 0)
                    throw new CommunicatorException($"mpi: MPI_Init_thread failed: {MpiCommunicator.ErrorText(code)}");
                if (provided < ThreadSerialized)
                    throw new CommunicatorException($"mpi: this MPI gives thread level {provided}; RawLongLoRA needs MPI_THREAD_SERIALIZED ({ThreadSerialized})");
                // Errors come back as codes (then CommunicatorException) instead of killing the process inside MPI.
                MPI_Comm_set_errhandler(MpiCommunicator.Handles.World, MpiCommunicator.Handles.ErrorsReturn);
            }
            var world = new MpiCommunicator(MpiCommunicator.Handles.World, world: true, timeout);
            world.LocalRank = LocalRank(world);
            AppDomain.CurrentDomain.ProcessExit += (_, _) => Shutdown();
            return _world = world;
        }
    }

    /// <summary>
    /// Finalises MPI if it was initialised, and only when no operation of this process failed (pending requests of a
    /// failed call would make MPI_Finalize wait for ever; the launcher tears such a job down).
    /// </summary>
    public static void Shutdown()
    {
        lock (Gate)
        {
            if (_world is null || Finalized || _failed)
                return;
            using (MpiCommunicator.Gate.EnterScope())
                MPI_Finalize();
            Finalized = true;
        }
    }

    /// <summary>
    /// Stops the whole job from this rank: prints "rank r: <paramref name="message"/>" to stderr and calls MPI_Abort on
    /// the world, which makes the launcher end every rank with <paramref name="code"/>. Without MPI it just exits.
    /// </summary>
    [DoesNotReturn]
    public static void Abort(int code, string message)
    {
        var world = _world;
        Console.Out.Flush();
        Console.Error.WriteLine($"rank {(world is null ? "?" : world.Rank.ToString(CultureInfo.InvariantCulture))}: {message}");
        Console.Error.Flush();
        if (world is not null && !Finalized)
            MPI_Abort(MpiCommunicator.Handles.World, code); // no gate: another thread may hold it in a stuck call
        Environment.Exit(code);
        throw new InvalidOperationException("unreachable");
    }

    /// <summary>A communicator's call failed: finalising would wait for its pending requests, so skip it.</summary>
    internal static void MarkFailed() => _failed = true;

    /// <summary>The default timeout: <paramref name="seconds"/> (the environment's value) or 10 minutes.</summary>
    internal static TimeSpan DefaultTimeout(string? seconds)
    {
        if (string.IsNullOrWhiteSpace(seconds))
            return TimeSpan.FromMinutes(10);
        if (!double.TryParse(seconds, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) || !(s > 0) || s > TimeSpan.MaxValue.TotalSeconds)
            throw new ArgumentException($"mpi: {TimeoutVariable}='{seconds}' is not a positive number of seconds");
        return TimeSpan.FromSeconds(s);
    }

    private static int LocalRank(MpiCommunicator world)
    {
        foreach (string v in LocalRankVariables)
            if (int.TryParse(Environment.GetEnvironmentVariable(v), CultureInfo.InvariantCulture, out int local))
                return local;
        // No launcher said: the rank among the processes that share this machine's memory.
        const int commTypeShared = 0;
        nint node;
        using (MpiCommunicator.Gate.EnterScope())
            MPI_Comm_split_type(MpiCommunicator.Handles.World, commTypeShared, world.Rank, MpiCommunicator.Handles.InfoNull, out node);
        using var group = new MpiCommunicator(node, world: false, world.Timeout);
        return group.Rank;
    }
}
