using System.CommandLine;

namespace RawLongLoRA.Cli;

/// <summary>rawlora: the command line of RawLongLoRA. Each verb lives in its own file under Commands/.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("RawLongLoRA: extend the context of Llama and Qwen models with LongLoRA, on a CPU or GPU.")
        {
            InspectCommand.Create(),
            ForwardCommand.Create(),
            GenerateCommand.Create(),
            TokenizeCommand.Create(),
            TrainCommand.Create(),
            MergeCommand.Create(),
            DemoCommand.Create(),
            EvalCommand.Create(),
        };
        root.Options.Add(CliRun.Verbose);
        root.Options.Add(CliRun.Quiet);
        return root.Parse(args).Invoke();
    }
}
