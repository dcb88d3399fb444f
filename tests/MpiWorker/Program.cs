// Placeholder until MpiCommunicator lands: the worker runs a scenario on the MPI world.
using RawLongLoRA.MpiWorker;

var scenario = args.Length > 0 ? ScenarioAttribute.Find(args[0]) : null;
if (scenario is null)
{
    Console.Error.WriteLine($"mpi worker: no scenario '{(args.Length > 0 ? args[0] : "")}'");
    return 2;
}
Console.Error.WriteLine("mpi worker: no MPI communicator yet");
return 3;
