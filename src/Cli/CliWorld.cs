using RawLongLoRA.Distributed;

namespace RawLongLoRA.Cli;

/// <summary>
/// The MPI world a command joins when mpirun (or srun) started it as one of several ranks, and the one-line errors of
/// a parallel launch that cannot work: sequence parallelism asked of a single process, a missing MPI library, sizes
/// that do not divide.
/// </summary>
internal static class CliWorld
{
    /// <summary>
    /// The world when launched under mpirun, else null; <paramref name="sp"/> (the --sp given, "none" for none) needs
    /// one, and so a single process is refused naming it.
    /// </summary>
    public static ICommunicator? Join(string command, string sp)
    {
        if (!Mpi.IsLaunched)
            return sp == "none" ? null
                : throw new ArgumentException($"{command}: --sp {sp} shares each row among ranks, but this is a single process; launch it as `mpirun -np N rawlora {command} ... --sp {sp} --sp-size K`");
        try
        {
            return Mpi.World();
        }
        catch (DllNotFoundException e)
        {
            throw new ArgumentException($"{command}: started by mpirun, but the MPI library cannot be loaded: {e.Message}", e);
        }
    }

    /// <summary>
    /// Throws one line unless <paramref name="ranks"/> ranks form groups of <paramref name="spSize"/> and, for Ulysses,
    /// the model's query heads split evenly among a group (key/value heads are replicated where there are fewer).
    /// </summary>
    public static void CheckSizes(string command, int ranks, string sp, int spSize, int queryHeads)
    {
        if (ranks % spSize != 0)
            throw new ArgumentException($"{command}: --sp-size {spSize} does not divide the {ranks} ranks mpirun started; give -np a multiple of it");
        if (sp == "ulysses" && queryHeads % spSize != 0)
            throw new ArgumentException($"{command}: --sp ulysses gives each of the {spSize} ranks (--sp-size) a share of the model's {queryHeads} attention heads; {spSize} must divide {queryHeads}");
    }

    /// <summary>
    /// <see cref="CheckSizes(string, int, string, int, int)"/> on every rank of <paramref name="world"/>: every rank finds the same fault, so rank 0
    /// says it and the others exit with the same code silently (one line, not one a rank).
    /// </summary>
    public static void CheckSizes(string command, ICommunicator world, string sp, int spSize, int queryHeads)
    {
        try
        {
            CheckSizes(command, world.Size, sp, spSize, queryHeads);
        }
        catch (ArgumentException e)
        {
            Refuse(world, e.Message);
        }
    }

    /// <summary>A fault every rank of <paramref name="world"/> finds: rank 0 throws it as one line, the others exit silently with the same code.</summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void Refuse(ICommunicator world, string message) => throw (world.Rank == 0 ? new ArgumentException(message) : new SilentExit(1));

    /// <summary>Ends a command with <paramref name="code"/> and prints nothing: another rank says why.</summary>
    internal sealed class SilentExit(int code) : Exception
    {
        /// <summary>The exit code.</summary>
        public int Code { get; } = code;
    }

    /// <summary>Whether this process prints: a single process, or rank 0 of the world.</summary>
    public static bool Prints(ICommunicator? world) => world is null || world.Rank == 0;
}
