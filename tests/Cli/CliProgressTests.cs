using RawLongLoRA.Cli;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The CLI's reporters where stdout is not a terminal (as here: a test captures it): plain lines a log keeps.</summary>
[Collection(SerialCollection.Name)]
public class CliProgressTests
{
    private static string[] Lines(string text) => text.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void ProgressPrintsAPlainLineAnUpdateWithAnEtaUntilTheLast()
    {
        var (output, _) = ConsoleCapture.Of(() =>
        {
            using var progress = new CliProgress(quiet: false);
            progress.Message("before");
            progress.Start(4, "step", done: 1);
            progress.Update(2, "loss 1.0");
            progress.Message("during");
            progress.Update(4, "loss 0.5");
            progress.Done();
        });
        var lines = Lines(output);
        Assert.Equal(4, lines.Length);
        Assert.Equal("before", lines[0]);
        Assert.Matches(@"^step 2/4  loss 1\.0  eta \d+m\d\ds$", lines[1]);
        Assert.Equal(["during", "step 4/4  loss 0.5"], lines[2..]);
    }

    [Fact]
    public void QuietProgressPrintsNothing()
    {
        var (output, err) = ConsoleCapture.Of(() =>
        {
            using var progress = new CliProgress(quiet: true);
            progress.Message("hello");
            progress.Start(2, "step");
            progress.Update(1, "loss 1");
            progress.Update(2, "loss 1");
        });
        Assert.Equal(("", ""), (output, err));
    }

    [Fact]
    public void SummaryTableAlignsPlainColumnsUnderATitle()
    {
        var (output, _) = ConsoleCapture.Of(() =>
            SummaryTable.Print("results", ["row", "passkey", "s/step"], [["none", "15%", "—"], ["LoRA + full attention", "75%", "1.80"]]));
        Assert.Equal(["results", "row                    passkey  s/step", "---------------------  -------  ------",
                      "none                   15%      —", "LoRA + full attention  75%      1.80"], Lines(output));
        Assert.Throws<ArgumentException>(() => SummaryTable.Print("t", ["a", "b"], [["only one"]]));
    }
}
