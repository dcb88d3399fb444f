using System.CommandLine;
using System.CommandLine.Invocation;

namespace RawLongLoRA.Cli;

/// <summary>rawlora: the command line of RawLongLoRA. Each verb lives in its own file under Commands/.</summary>
internal static class Program
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
            PlanCommand.Create(),
            MergeCommand.Create(),
            DemoCommand.Create(),
            EvalCommand.Create(),
        };
        root.Options.Add(CliRun.Verbose);
        root.Options.Add(CliRun.Quiet);
        root.Options.Add(CliProfile.Option);
        // No response files: "@user hi" is text a user typed (a prompt, a --text), never a file to read in.
        var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        return parse.Action is ParseErrorAction ? ParseErrors.Report(parse) : parse.Invoke();
    }
}
