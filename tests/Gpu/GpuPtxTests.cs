using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime.Cuda;
using RawLongLoRA.Kernels.Gpu;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// Every ILGPU kernel compiled to PTX by ILGPU's PTX backend, which needs no GPU: the CPU accelerator the other tests
/// use never runs this code generator, so a kernel it cannot translate would otherwise first fail on a GPU.
/// </summary>
public sealed class GpuPtxTests
{
    public static TheoryData<string> Kernels()
    {
        var d = new TheoryData<string>();
        foreach (var m in All())
            d.Add($"{m.DeclaringType!.Name}.{m.Name}");
        return d;
    }

    [Fact]
    public void TheKernelsAreFoundByTheirAttribute() => Assert.Contains(All(), m => m.Name == nameof(CopyKernels.Copy));

    [Theory]
    [MemberData(nameof(Kernels))]
    public void CompilesToPtxForSm80AndSm90(string name)
    {
        foreach (var arch in Architectures)
        {
            var ptx = Ptx(name, arch);
            Assert.Contains(".visible .entry", ptx);
            Assert.Contains(".target sm_", ptx);
            // A call ILGPU has no PTX for (MathF.Log2, MathF.FusedMultiplyAdd) compiles to a function no module
            // defines: the PTX assembles here but the kernel would fail to load on a GPU.
            Assert.False(ptx.Contains(".extern .func", StringComparison.Ordinal), $"{name} calls a function with no PTX body");
        }
    }

    /// <summary>NVIDIA's assembler takes each kernel's PTX for sm_80 and sm_90: what the driver's JIT does on a GPU.</summary>
    [PtxasTheory]
    [MemberData(nameof(Kernels))]
    public void AssemblesWithPtxasForSm80AndSm90(string name)
    {
        using var dir = new TempFolder("rawlora-ptx-");
        foreach (var arch in Architectures)
        {
            string sm = arch == CudaArchitecture.SM_80 ? "sm_80" : "sm_90";
            string file = dir.File($"{sm}.ptx");
            File.WriteAllText(file, Ptx(name, arch));
            var (exit, output) = ChildProcess.Run(PtxasTheoryAttribute.Path!, ["-arch=" + sm, "-o", dir.File($"{sm}.cubin"), file], dir.Path);
            Assert.True(exit == 0, $"ptxas -arch={sm} refused {name}: {output}");
        }
    }

    private static readonly CudaArchitecture[] Architectures = [CudaArchitecture.SM_80, CudaArchitecture.SM_90];

    private static string Ptx(string name, CudaArchitecture arch)
    {
        var method = All().Single(m => $"{m.DeclaringType!.Name}.{m.Name}" == name);
        using var context = Context.Create(b => b.Optimize(OptimizationLevel.O2));
        using var backend = new PTXBackend(context, new CudaCapabilityContext(arch), arch, CudaInstructionSet.ISA_78, null);
        bool implicitGroups = method.GetParameters()[0].ParameterType.Name.StartsWith("Index", StringComparison.Ordinal);
        var entry = implicitGroups ? EntryPointDescription.FromImplicitlyGroupedKernel(method) : EntryPointDescription.FromExplicitlyGroupedKernel(method);
        return ((PTXCompiledKernel)backend.Compile(entry, default)).PTXAssembly;
    }

    private static IEnumerable<MethodInfo> All() => typeof(IlgpuBackend).Assembly.GetTypes()
        .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
        .Where(m => m.GetCustomAttribute<GpuKernelAttribute>() is not null);
}
