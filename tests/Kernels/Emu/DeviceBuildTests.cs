using Xunit;

namespace RawLongLoRA.Tests.Kernels.Emu;

/// <summary>
/// The device side of kernels.cu/common.cuh, which the host emulation cannot see: the probes compiled by nvcc for sm_80
/// and sm_90 hold the PTX instructions of the primitives, and ptxas assembles them, so the inline asm strings are valid.
/// </summary>
public sealed class DeviceBuildTests
{
    [PtxasTheory]
    [InlineData("sm_80")]
    [InlineData("sm_90")]
    public void The_probes_compile_to_the_primitives_PTX_and_ptxas_assembles_it(string arch)
    {
        string nvcc = ProgramPath.Find("nvcc") ?? throw new InvalidOperationException("ptxas is installed but nvcc is not (both come with nvidia-cuda-toolkit)");
        using var folder = new TempFolder("emu-ptx-");
        string kernels = EmuKernels.SourceFolder, ptx = folder.File("probe.ptx");
        var (code, output) = ChildProcess.Run(nvcc, ["-ccbin", "clang-14", "-arch=" + arch, "--ptx", "-I", kernels, "-o", ptx, Path.Combine(kernels, "emu", "probe.cu")], folder.Path);
        Assert.True(code == 0, $"nvcc failed:\n{output}");
        string text = File.ReadAllText(ptx);
        foreach (string instruction in new[]
                 {
                     "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32",
                     "ldmatrix.sync.aligned.m8n8.x1.shared.b16", "ldmatrix.sync.aligned.m8n8.x2.shared.b16", "ldmatrix.sync.aligned.m8n8.x4.shared.b16",
                     "ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16", "ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16", "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16",
                     "cp.async.cg.shared.global", "cp.async.commit_group", "cp.async.wait_group 0", "cp.async.wait_group 1", "ex2.approx.ftz.f32",
                 })
            Assert.Contains(instruction, text);
        (code, output) = ChildProcess.Run(PtxasTheoryAttribute.Path!, ["-arch=" + arch, "-o", folder.File("probe.cubin"), ptx], folder.Path);
        Assert.True(code == 0, $"ptxas failed:\n{output}");
    }
}
