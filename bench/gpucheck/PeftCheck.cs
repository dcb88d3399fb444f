using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RawLongLoRA.Model;
using RawLongLoRA.Training.Checks;

namespace RawLongLoRA.Bench.GpuCheck;

/// <summary>
/// Does Hugging Face PEFT compute our logits from an adapter we trained? Writes the tiny model's base weights (an
/// HF folder), the adapter the device trained (PEFT's format), and our logits on a few ids, then runs
/// bench/peer/peft_check.py, which loads the base with transformers and the adapter with PeftModel.from_pretrained
/// and compares. Where Python lacks torch, transformers or peft, the row says so and counts as skipped.
/// </summary>
internal static class PeftCheck
{
    /// <summary>Both sides float32: a wrong key or scale is off by far more; another summation order is not.</summary>
    public const double Tolerance = 1e-3;

    private const string Check = "PEFT loads our adapter";

    public static CheckRow Run(TinyTrainingStep trained, string outDir, string python)
    {
        string dir = Path.Combine(outDir, "peft");
        if (Directory.Exists(dir))
            Directory.Delete(dir, recursive: true);
        string baseDir = Path.Combine(dir, "base"), adapterDir = Path.Combine(dir, "adapter"), expected = Path.Combine(dir, "expected.json"), result = Path.Combine(dir, "result.json");
        Directory.CreateDirectory(dir);
        string variant = $"{trained.Config.SourceName}, adapter trained on {trained.Model.Device}";
        try
        {
            // The same seed draws the same base; its adapter's B is still zero, so merged it is the base weights exactly.
            using (var fresh = new TinyTrainingStep(Device.Cpu, config: trained.Config))
                MergedExport.Write(fresh.Model, null, baseDir, long.MaxValue, DType.F32);
            PeftAdapter.Save(trained.Model, "default", adapterDir, baseDir);
            long[] ids = [1, 5, 9, 2, 30, 7, 7, 11, 4, 19, 23, 3];
            float[] logits;
            using (var scope = new DisposeScope())
            using (Autograd.NoGrad())
                logits = trained.Model.Forward(Tensor.FromArray(ids, [1, ids.Length], trained.Model.Device)).ToFloatArray();
            File.WriteAllText(expected, new JsonObject
            {
                ["input_ids"] = new JsonArray(new JsonArray([.. ids.Select(i => JsonValue.Create(i))])),
                ["shape"] = new JsonArray(1, ids.Length, trained.Config.VocabSize),
                ["logits"] = new JsonArray([.. logits.Select(x => JsonValue.Create(x))]),
            }.ToJsonString());
        }
        catch (Exception e)
        {
            return CheckRow.Threw(Check, variant, Tolerance, e);
        }
        return RunPeer(python, baseDir, adapterDir, expected, result, variant);
    }

    /// <summary>peft_check.py's verdict: exit 0 or 1 with its figures in <paramref name="result"/>, 3 where it cannot import what it needs.</summary>
    private static CheckRow RunPeer(string python, string baseDir, string adapterDir, string expected, string result, string variant)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "peer", "peft_check.py");
        var info = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { script, "--base", baseDir, "--adapter", adapterDir, "--expected", expected, "--json", result, "--tolerance", Tolerance.ToString("R", System.Globalization.CultureInfo.InvariantCulture) })
            info.ArgumentList.Add(a);
        string output;
        int exit;
        try
        {
            using var p = Process.Start(info)!;
            var stderr = p.StandardError.ReadToEndAsync();
            output = p.StandardOutput.ReadToEnd() + stderr.Result;
            p.WaitForExit();
            exit = p.ExitCode;
        }
        catch (Exception e)
        {
            return new(Check, variant, CheckRow.Skipped, null, Tolerance, null, $"{python} did not start ({CheckRow.OneLine(e.Message)})");
        }
        Console.Write(output);
        if (exit == 3)
            return new(Check, variant, CheckRow.Skipped, null, Tolerance, null, CheckRow.OneLine(output.Trim()));
        if (exit is not (0 or 1) || !File.Exists(result))
            return new(Check, variant, CheckRow.Error, null, Tolerance, null, $"peft_check.py exited with {exit}: {CheckRow.OneLine(output.Trim())}");
        var figures = JsonNode.Parse(File.ReadAllText(result))!;
        return CheckRow.Compared(Check, variant, figures["max_relative_error"]!.GetValue<double>(), Tolerance,
            detail: $"torch {figures["torch"]}, transformers {figures["transformers"]}, peft {figures["peft"]} on {figures["device"]}");
    }
}
