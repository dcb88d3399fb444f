using System.CommandLine;
using RawLongLoRA.Model;

namespace RawLongLoRA.Cli;

/// <summary>
/// rawlora merge BASE ADAPTER --out DIR: the base model with a PEFT adapter folded in, as a plain Hugging
/// Face model folder. Where the adapter folder has a config.json reaching a longer context than the base
/// (the trainer saves the extended config there), its rope scaling goes into the merged model.
/// </summary>
internal static class MergeCommand
{
    public static Command Create()
    {
        var baseDir = new Argument<string>("base") { Description = "The base Hugging Face model folder the adapter was trained on" };
        var adapterDir = new Argument<string>("adapter") { Description = "A PEFT adapter folder (adapter_config.json, adapter_model.safetensors)" };
        var output = new Option<string>("--out", "-o") { Description = "The merged model folder to create (must not exist, or be empty)", Required = true };
        var dtype = new Option<string?>("--dtype") { Description = "Write the weights as f32, bf16 or f16 (default: the base's torch_dtype)" };
        var shardSize = new Option<string>("--shard-size") { Description = "Largest weight file, e.g. 5GB, 500MB, 2GiB", DefaultValueFactory = _ => "5GB" };
        var command = new Command("merge", "Fold a LoRA adapter into its base model and write a Hugging Face model folder\n\n" +
            "Examples:\n  rawlora merge ./Llama-2-7b-hf ./run/adapter --out ./Llama-2-7b-longlora-32k\n" +
            "  rawlora merge ./Qwen3-0.6B ./run/adapter --out ./merged --dtype bf16 --shard-size 2GB")
        {
            baseDir, adapterDir, output, dtype, shardSize,
        };
        return command.NonEmpty(baseDir, adapterDir, output).Runs(parse =>
        {
            string folder = parse.GetValue(baseDir)!, adapter = parse.GetValue(adapterDir)!, outDir = parse.GetValue(output)!;
            long shardBytes = Quantities.Bytes(parse.GetValue(shardSize)!, "--shard-size");
            OutputPaths.NewFolder(outDir, "--out");
            var written = parse.GetValue(dtype) is { } d ? CliRun.ParseWeightDtype(d, "--dtype") : ModelFolder.Config(folder).TorchDtype;
            using var model = CausalLM.Load(folder, written);
            PeftAdapter.Load(model, adapter);
            if (PeftAdapter.ExtendContextFrom(model, adapter))
                Console.WriteLine($"context: {model.Config.MaxPositionEmbeddings} tokens, rope {model.Config.Rope.Type.JsonName()} factor {model.Config.Rope.Factor}, from {Path.Combine(adapter, "config.json")}");
            MergedExport.Write(model, folder, outDir, shardBytes, written);
            Console.WriteLine($"wrote {outDir}: {model.Config.Architecture}, weights {written.TorchName()}");
        });
    }
}
