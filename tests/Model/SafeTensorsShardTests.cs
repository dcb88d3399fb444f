using System.Text.Json;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

public sealed class SafeTensorsShardTests : IDisposable
{
    private readonly SafeTensorsScratch _scratch = new();
    private readonly List<(string Name, Tensor T)> _tensors = [];

    public void Dispose()
    {
        foreach (var (_, t) in _tensors)
            t.Dispose();
        _scratch.Dispose();
    }

    /// <summary>Tensors of 10 float32 (40 bytes) each, value i·100 + j.</summary>
    private List<(string Name, Tensor T)> Tensors(params string[] names)
    {
        foreach (var name in names)
            _tensors.Add((name, Tensor.FromArray([.. Enumerable.Range(0, 10).Select(j => _tensors.Count * 100f + j)], [2, 5])));
        return _tensors;
    }

    private static void SameValues(List<(string Name, Tensor T)> expected, SafeTensorsCheckpoint checkpoint)
    {
        Assert.Equal(expected.Select(e => e.Name).Order(), checkpoint.Names.Order());
        foreach (var (name, t) in expected)
        {
            using var loaded = checkpoint.Load(name);
            Assert.Equal(t.ToFloatArray(), loaded.ToFloatArray());
        }
    }

    private string[] FilesInDir() => [.. Directory.GetFiles(_scratch.Dir).Select(Path.GetFileName).Order()!];

    [Fact]
    public void ShardsFillInOrderAndTheIndexMapsEveryTensor()
    {
        var tensors = Tensors("e", "d", "c", "b", "a");
        SafeTensorsWriter.WriteSharded(_scratch.Dir, tensors, maxShardBytes: 100);

        string[] shards = ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"];
        Assert.Equal([.. shards, "model.safetensors.index.json"], FilesInDir());
        using var index = JsonDocument.Parse(File.ReadAllText(_scratch.PathOf("model.safetensors.index.json")));
        Assert.Equal(200, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        var map = index.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => (p.Name, p.Value.GetString())).ToList();
        Assert.Equal([("a", shards[2]), ("b", shards[1]), ("c", shards[1]), ("d", shards[0]), ("e", shards[0])], map);

        using var checkpoint = SafeTensorsCheckpoint.Open(_scratch.Dir);
        Assert.Equal(shards.Select(_scratch.PathOf), checkpoint.Files.Select(Path.GetFullPath));
        SameValues(tensors, checkpoint);
        Assert.Equal(DType.F32, checkpoint.Info("c").DType);
        using var converted = checkpoint.Load("a", DType.BF16);
        Assert.Equal(DType.BF16, converted.DType);
    }

    [Fact]
    public void ATensorLargerThanTheLimitGetsAShardOfItsOwn()
    {
        var tensors = Tensors("small", "big", "small2");
        SafeTensorsWriter.WriteSharded(_scratch.Dir, tensors, maxShardBytes: 30);
        using var checkpoint = SafeTensorsCheckpoint.Open(_scratch.Dir);
        Assert.Equal(3, checkpoint.Files.Count());
        SameValues(tensors, checkpoint);
    }

    [Fact]
    public void WhatFitsIsOneFileAndAnEarlierSaveIsCleanedAway()
    {
        var tensors = Tensors("a", "b", "c");
        File.WriteAllText(_scratch.PathOf("model-notes.txt"), "kept");
        SafeTensorsWriter.WriteSharded(_scratch.Dir, tensors, maxShardBytes: 50);
        Assert.Equal(["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors",
            "model-notes.txt", "model.safetensors.index.json"], FilesInDir());

        SafeTensorsWriter.WriteSharded(_scratch.Dir, tensors, maxShardBytes: 1000);
        Assert.Equal(["model-notes.txt", "model.safetensors"], FilesInDir());
        using (var checkpoint = SafeTensorsCheckpoint.Open(_scratch.Dir))
            SameValues(tensors, checkpoint);

        SafeTensorsWriter.WriteSharded(_scratch.Dir, tensors, maxShardBytes: 80);
        Assert.Equal(["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model-notes.txt", "model.safetensors.index.json"], FilesInDir());
    }

    [Fact]
    public void ACheckpointOpensFromAFolderAFileOrAnIndexWithAnyBaseName()
    {
        var tensors = Tensors("lora_A", "lora_B");
        SafeTensorsWriter.WriteSharded(_scratch.Dir, tensors, maxShardBytes: 40, baseName: "adapter_model");
        using (var byFolder = SafeTensorsCheckpoint.Open(_scratch.Dir, "adapter_model"))
            SameValues(tensors, byFolder);
        using (var byIndex = SafeTensorsCheckpoint.Open(_scratch.PathOf("adapter_model.safetensors.index.json")))
            SameValues(tensors, byIndex);
        using (var byShard = SafeTensorsCheckpoint.Open(_scratch.PathOf("adapter_model-00002-of-00002.safetensors")))
            Assert.Equal(["lora_B"], byShard.Names);
    }
}
