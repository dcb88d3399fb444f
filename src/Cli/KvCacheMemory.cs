using RawLongLoRA.Model;

namespace RawLongLoRA.Cli;

/// <summary>
/// Generation keeps a float32 KV cache as long as the prompt and the new tokens together, allocated at
/// once: one that cannot fit in this machine's memory is refused naming the flag, before the model loads.
/// </summary>
internal static class KvCacheMemory
{
    public static void Require(ModelConfig config, long tokens, string option)
    {
        long bytes = 2L * config.NumLayers * config.NumKvHeads * config.HeadDim * sizeof(float) * tokens;
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (bytes > available)
            throw new ArgumentException($"{option}: a KV cache of {tokens:N0} tokens takes {CliRun.Bytes(bytes)}, more than this machine's {CliRun.Bytes(available)}");
    }
}
