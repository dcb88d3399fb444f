namespace RawLongLoRA.Training;

/// <summary>
/// The demo's pretrained base, shipped inside this assembly (src/Training/Demo/base: config.json,
/// model.safetensors, tokenizer files), made by `rawlora demo --make-base DIR` (<see cref="DemoBase"/>).
/// </summary>
internal static class ShippedBase
{
    private const string Prefix = "demo-base/";

    public static void ExtractTo(string dir)
    {
        Directory.CreateDirectory(dir);
        var assembly = typeof(ShippedBase).Assembly;
        var names = assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)).ToList();
        if (names.Count == 0)
            throw new InvalidOperationException("demo: this build carries no base model (src/Training/Demo/base is empty); make one with rawlora demo --make-base DIR and pass --base DIR");
        foreach (string name in names)
        {
            using var source = assembly.GetManifestResourceStream(name)!;
            using var target = File.Create(Path.Combine(dir, name[Prefix.Length..]));
            source.CopyTo(target);
        }
    }
}
