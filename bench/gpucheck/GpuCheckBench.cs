using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using RawLongLoRA.Kernels.Gpu;
using RawLongLoRA.Training.Checks;

namespace RawLongLoRA.Bench.GpuCheck;

/// <summary>
/// `bench gpu-check`: is the GPU backend right? Every <see cref="IBackend"/> primitive against the CPU backend on
/// random inputs with poisoned outputs (<see cref="PrimitiveCases"/>), a table of max relative errors with bf16
/// tolerances and the device's time per call; then a tiny model's training step on the device and on the CPU
/// (<see cref="StepCheck"/>); then Hugging Face PEFT on an adapter the device trained (<see cref="PeftCheck"/>).
/// Every figure goes to gpu-check.json in --out ($OUT by default). Without a GPU it says so in one line and exits 1.
/// `--device ilgpu-cpu` runs the same checks on ILGPU's CPU accelerator at tiny shapes, and `--device cpu` the CPU
/// against itself, so the tool's own code runs in the tests on a machine without a GPU; a primitive a backend does not support (NotSupportedException) is a "not implemented" row, not a crash.
/// </summary>
public static class GpuCheckBench
{
    public static readonly Verb Verb = new(
        "gpu-check",
        "every GPU primitive against the CPU backend, a tiny training step on GPU vs CPU, and PEFT loading our adapter; JSON under --out",
        [
            ("--device D", $"cuda:N (default cuda:0); {BenchDevice.CpuAccelerator}: ILGPU's CPU accelerator at tiny shapes; cpu: the CPU against itself (these two check the tool)"),
            ("--out DIR", "where gpu-check.json and the PEFT check's files go (default $OUT, else ./gpu-check)"),
            ("--only TEXT", "only the primitives whose name contains TEXT (the step and PEFT checks still run)"),
            ("--no-peft", "skip the PEFT check"),
            ("--python P", "the Python with torch, transformers and peft (default $RAWLORA_PYTHON, else python3)"),
        ],
        Run);

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static int Run(Options options, Report report)
    {
        if (BenchDevice.Resolve(options.Value("--device") ?? "cuda:0", allowCpu: true, out string? why) is not { } device)
        {
            Console.Error.WriteLine($"bench gpu-check: {why}");
            return 1;
        }
        bool gpu = BenchDevice.IsCuda(device);
        string name = device is IlgpuBackend i ? $"{i.Accelerator.Name} ({i.Accelerator.AcceleratorType}, warp {i.Accelerator.WarpSize}"
            + (gpu ? $", {i.Accelerator.MemorySize / (double)(1L << 30):F1} GiB)" : ")") : "the CPU backend itself";
        string outDir = Path.GetFullPath(options.Value("--out") ?? Environment.GetEnvironmentVariable("OUT") ?? "gpu-check");
        Directory.CreateDirectory(outDir);
        report.Note($"device: {device.Device} = {name}; shapes {(gpu ? "GPU-sized" : "tiny")}; reference: the CPU backend");

        string only = options.Value("--only") ?? "";
        var primitives = new List<CheckRow>();
        foreach (var c in PrimitiveCases.All(gpu ? CheckShapes.Gpu : CheckShapes.Tiny).Where(c => c.Primitive.Contains(only, StringComparison.OrdinalIgnoreCase)))
            primitives.Add(Print(PrimitiveCheck.Run(c, device, time: gpu)));

        var step = StepCheck.Run(device.Device, gpu ? 2 : 1, out var trained).Select(Print).ToList();
        CheckRow? peft = null;
        using (trained)
        {
            string python = options.Value("--python") ?? Peer.GpuPython;
            if (!options.Flag("--no-peft"))
                peft = Print(trained is null
                    ? new CheckRow("PEFT loads our adapter", "", CheckRow.Skipped, null, PeftCheck.Tolerance, null, "the training step did not run on the device")
                    : PeftCheck.Run(trained, outDir, python));
        }

        var all = primitives.Concat(step).Append(peft).OfType<CheckRow>().ToList();
        bool passed = all.All(r => r.Status is CheckRow.Ok or CheckRow.Skipped);
        string json = Path.Combine(outDir, "gpu-check.json");
        File.WriteAllText(json, JsonSerializer.Serialize(new
        {
            Device = device.Device.ToString(), Backend = name, report.Machine, Passed = passed,
            Primitives = primitives, TrainingStep = step, Peft = peft,
        }, Json) + "\n");

        Console.WriteLine();
        Table(all);
        var counts = all.GroupBy(r => r.Status).Select(g => $"{g.Count()} {g.Key}");
        Console.WriteLine($"gpu-check on {device.Device} ({name}): {string.Join(", ", counts)} — {(passed ? "PASSED" : "NOT PASSED")}; figures in {json}");
        return passed ? 0 : 1;
    }

    private static CheckRow Print(CheckRow r)
    {
        Console.WriteLine($"  {r.Check} [{r.Variant}]: {r.Status}" + (r.MaxRelativeError is { } e ? $", max relative error {e:E2} (tolerance {r.Tolerance:E1})" : "")
            + (r.DeviceMicroseconds is { } us ? $", {us:F1} µs" : "") + (r.Detail is null ? "" : $" — {r.Detail}"));
        return r;
    }

    private static void Table(List<CheckRow> rows)
    {
        string[] head = ["check", "variant", "status", "max rel err", "tolerance", "device µs"];
        var cells = rows.Select(r => new[]
        {
            r.Check, r.Variant, r.Status,
            r.MaxRelativeError is { } e ? e.ToString("0.00e+00", CultureInfo.InvariantCulture) : "",
            r.Tolerance.ToString("0.0e+00", CultureInfo.InvariantCulture),
            r.DeviceMicroseconds is { } us ? us.ToString("F1", CultureInfo.InvariantCulture) : "",
        }).ToList();
        var widths = head.Select((h, i) => Math.Max(h.Length, cells.Max(c => c[i].Length))).ToArray();
        foreach (var line in cells.Prepend(widths.Select(w => new string('-', w)).ToArray()).Prepend(head))
            Console.WriteLine(string.Join("  ", line.Select((c, i) => i >= 3 ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))).TrimEnd());
    }
}
