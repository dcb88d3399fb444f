using System.Globalization;
using System.IO.Compression;
using System.Text.RegularExpressions;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// The libraries as NuGet packages, used as a user would: this build is packed under a version no package cache
/// can hold yet, samples/CustomLoop is copied out of the repository and built against that folder feed, and it
/// trains the tiny model: the loss falls, the adapter loads back, and a run stopped at a checkpoint resumes to
/// the very losses of a run that was not stopped.
/// </summary>
public sealed partial class CustomLoopPackageTests : IDisposable
{
    private static readonly string[] Packages = ["RawLongLoRA.Tensor", "RawLongLoRA.Kernels", "RawLongLoRA.Autograd", "RawLongLoRA.Model", "RawLongLoRA.Training"];

    private readonly string _dir = Directory.CreateTempSubdirectory("rawlora-pack-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TheSampleBuiltOnThePackagesTrainsAndResumes()
    {
        string version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        string feed = Path.Combine(_dir, "feed"), app = Path.Combine(_dir, "app"), cache = Path.Combine(_dir, "packages");
        DotnetCli.Run(Repository.Root, ["pack", "RawLongLoRA.sln", "-c", DotnetCli.Configuration, "--no-build", "-o", feed, $"-p:Version={version}"]);
        foreach (string id in Packages)
        {
            Assert.True(File.Exists(Path.Combine(feed, $"{id}.{version}.snupkg")), $"{id}: no symbols package");
            using var package = ZipFile.OpenRead(Path.Combine(feed, $"{id}.{version}.nupkg"));
            Assert.Contains($"lib/net10.0/{id}.xml", package.Entries.Select(e => e.FullName)); // the docs IntelliSense shows
        }

        // Outside the repository, with MSBuild's search for settings stopped here and its own package cache (the machine's
        // cache only lends the third-party packages), the sample takes RawLongLoRA.Training from the feed.
        Directory.CreateDirectory(app);
        foreach (string file in new[] { "CustomLoop.csproj", "Program.cs" })
            File.Copy(Path.Combine(Repository.Root, "samples", "CustomLoop", file), Path.Combine(app, file));
        File.WriteAllText(Path.Combine(_dir, "Directory.Build.props"), "<Project />");
        File.WriteAllText(Path.Combine(_dir, "Directory.Packages.props"), "<Project />");
        File.WriteAllText(Path.Combine(_dir, "nuget.config"), $"""
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
            </configuration>
            """);
        DotnetCli.Run(app, ["build", "-c", "Release", $"-p:RawLongLoRAVersion={version}", $"-p:RestoreAdditionalProjectFallbackFolders={MachinePackageCache()}"],
               new Dictionary<string, string> { ["NUGET_PACKAGES"] = cache });
        Assert.True(Directory.Exists(Path.Combine(cache, "rawlonglora.training", version)), "the sample did not restore the packed RawLongLoRA.Training");

        string model = TinyModelFolder.Create(Path.Combine(_dir, "model"), "llama-gqa-tiny"), text = Path.Combine(_dir, "text.txt");
        var random = new Random(1);
        string[] words = "the quick brown fox jumps over a lazy dog while seven bright stars watch".Split(' ');
        File.WriteAllText(text, string.Join(' ', Enumerable.Range(0, 2000).Select(_ => words[random.Next(words.Length)])));
        string sample = Path.Combine(app, "bin", "Release", "net10.0", "CustomLoop.dll");
        string Train(string output, params string[] more) => DotnetCli.Run(_dir, [sample, model, text, Path.Combine(_dir, output), "--steps", "24", .. more]);

        string stopped = Train("stopped", "--stop-after", "12");
        Assert.Equal(Enumerable.Range(1, 12), Steps(stopped).Select(s => s.Step));
        Assert.Contains($"checkpoint {Path.Combine(_dir, "stopped", "checkpoint-12")}", stopped);
        Assert.False(Directory.Exists(Path.Combine(_dir, "stopped", "adapter")));

        string resumed = Train("stopped");
        Assert.Contains($"resumed from {Path.Combine(_dir, "stopped", "checkpoint-12")} at step 12", resumed);
        Assert.Equal(Enumerable.Range(13, 12), Steps(resumed).Select(s => s.Step));

        var whole = Steps(Train("whole"));
        Assert.Equal(whole, Steps(stopped).Concat(Steps(resumed)));
        Assert.True(whole.TakeLast(4).Average(s => s.Loss) < whole[0].Loss - 0.3, $"the loss did not fall: {string.Join(", ", whole.Select(s => s.Loss))}");

        using var tiny = CausalLM.Load(model);
        PeftAdapter.Load(tiny, Path.Combine(_dir, "stopped", "adapter"));
        Assert.Equal(8, tiny.AdapterConfig("default").R);
        Assert.Equal(256, ModelConfig.Load(Path.Combine(_dir, "stopped", "adapter", "config.json")).MaxPositionEmbeddings);
    }

    /// <summary>The "step N loss L lr R grad_norm G" lines, each as its step, its loss and the whole line.</summary>
    private static List<(int Step, double Loss, string Line)> Steps(string output) =>
        [.. StepLine().Matches(output).Select(m => (int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), m.Value))];

    [GeneratedRegex(@"^step (\d+) loss ([0-9.]+) .*$", RegexOptions.Multiline)]
    private static partial Regex StepLine();

    private static string MachinePackageCache() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
}
