using RawLongLoRA.Training;

namespace RawLongLoRA.Cli;

/// <summary>Tokenizing's progress on a <see cref="CliProgress"/>: MiB of the data files read, and the tokens made so far.</summary>
internal sealed class DataProgressBar(CliProgress progress) : IProgress<DataProgress>
{
    private const double MiB = 1 << 20;
    private int _shown = -1;
    private bool _started;

    public void Report(DataProgress value)
    {
        int total = Math.Max(1, (int)Math.Ceiling(value.BytesTotal / MiB)), done = (int)(value.BytesDone / MiB);
        if (!_started)
        {
            progress.Start(total, "tokenizing MiB");
            _started = true;
        }
        // A plain log gets a line per tenth, not one per batch.
        if (value.BytesDone < value.BytesTotal && done * 10 / total == _shown * 10 / total)
            return;
        _shown = done;
        progress.Update(value.BytesDone >= value.BytesTotal ? total : done, $"{value.Tokens:N0} tokens");
    }

    /// <summary>Ends the bar if tokenizing drew one.</summary>
    public void Done()
    {
        if (_started)
            progress.Done();
    }
}
