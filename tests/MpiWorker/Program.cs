// The program distributed tests start under mpirun: `RawLongLoRA.MpiWorker <scenario> [args...]` runs the named
// scenario on the MPI world. A rank whose scenario throws prints "rank r: <message>" and aborts the job (non-zero exit
// for every rank); otherwise the ranks meet at a barrier, finalise and exit 0.
using RawLongLoRA.Distributed;
using RawLongLoRA.MpiWorker;

var scenario = args.Length > 0 ? ScenarioAttribute.Find(args[0]) : null;
if (scenario is null)
{
    Console.Error.WriteLine($"mpi worker: no scenario '{(args.Length > 0 ? args[0] : "")}'; usage: RawLongLoRA.MpiWorker <scenario> [args...]");
    return 2;
}
MpiCommunicator world;
try
{
    world = Mpi.World();
}
catch (Exception e) when (e is InvalidOperationException or ArgumentException or DllNotFoundException or CommunicatorException)
{
    Console.Error.WriteLine(e.Message);
    return 3;
}
try
{
    scenario(world, args[1..]);
    world.Barrier();
}
catch (Exception e)
{
    Mpi.Abort(1, $"{e.GetType().Name}: {e.Message}");
}
Console.Out.Flush();
world.Dispose();
return 0;
