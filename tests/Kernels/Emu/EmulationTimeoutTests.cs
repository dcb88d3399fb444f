using System.Runtime.InteropServices;
using Xunit;
using static RawLongLoRA.Tests.Kernels.Emu.Probe;

namespace RawLongLoRA.Tests.Kernels.Emu;

/// <summary>
/// A kernel thread that never finishes fails its launch after the library's timeout instead of hanging the test run.
/// Serial: the timeout is the probe library's, which a test beside it would launch under.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed unsafe class EmulationTimeoutTests
{
    [EmuFact]
    public void A_launch_that_does_not_finish_in_time_fails_and_the_library_runs_the_next_one()
    {
        var setTimeout = (delegate* unmanaged<double, void>)NativeLibrary.GetExport(EmuKernels.Library("emu/probe"), "emu_set_timeout");
        // Native and never freed: the abandoned thread reads it after the test has moved on, until it sees the 1.
        int* spinUntil = (int*)NativeMemory.AllocZeroed(sizeof(int));
        setTimeout(1);
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => Run("probe_fault", Blocks(1, 64), new Fault { SpinUntil = spinUntil, Mode = 8 }));
            Assert.Contains("kernel probe_fault did not finish within 1 s: a thread loops forever", e.Message);
        }
        finally
        {
            Volatile.Write(ref *spinUntil, 1);
            setTimeout(120);
        }
        float counter = 0;
        Run("probe_atomic", Blocks(2, 64), new Atomic { Counter = &counter });
        Assert.Equal(128f, counter);
    }
}
