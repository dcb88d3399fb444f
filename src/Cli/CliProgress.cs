using System.CommandLine;
using System.Diagnostics;
using Spectre.Console;

namespace RawLongLoRA.Cli;

/// <summary>
/// A verb's progress through N steps, shown the way its output is read: a live bar (description,
/// bar, percentage, ETA) on a terminal; a plain line a step, ETA included, where stdout is a file, a
/// pipe or CI; nothing with --quiet (errors and the final summary still print). Info lines go through
/// <see cref="Message"/> so they do not tear the live bar: they wait until <see cref="Done"/>.
/// </summary>
internal sealed class CliProgress : IDisposable
{
    private enum Mode { Live, Plain, Quiet }

    private readonly Mode _mode;
    private readonly List<string> _held = [];
    private readonly Stopwatch _clock = new();
    private string _description = "";
    private int _total, _first, _width;
    private ProgressTask? _bar;
    private TaskCompletionSource? _finish;
    private Task? _render;

    public CliProgress(bool quiet) => _mode = quiet ? Mode.Quiet : Terminal.IsInteractive ? Mode.Live : Mode.Plain;

    /// <summary>The reporter a verb's --quiet asks for.</summary>
    public static CliProgress For(ParseResult parse) => new(parse.GetValue(CliRun.Quiet));

    /// <summary>Begins counting to <paramref name="total"/>; <paramref name="done"/> steps are behind already (a resumed run).</summary>
    public void Start(int total, string description, int done = 0)
    {
        (_total, _description, _first) = (total, description, done);
        _clock.Restart();
        if (_mode != Mode.Live)
            return;
        var bar = new TaskCompletionSource<ProgressTask>(TaskCreationOptions.RunContinuationsAsynchronously);
        _finish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var finish = _finish.Task;
        var console = Terminal.Ansi();
        _width = console.Profile.Width;
        _render = Task.Run(() => console.Progress()
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = BarWidth }, new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Fit(Line(done, "")), maxValue: total);
                task.Value = done;
                bar.SetResult(task);
                await finish;
                context.Refresh();
            }));
        _bar = bar.Task.GetAwaiter().GetResult();
    }

    /// <summary><paramref name="done"/> of the total are done; <paramref name="status"/> says how it goes (loss, speed, memory).</summary>
    public void Update(int done, string status)
    {
        switch (_mode)
        {
            case Mode.Live when _bar is not null:
                _bar.Description = Fit(Line(done, status));
                _bar.Value = done;
                break;
            case Mode.Plain:
                Console.WriteLine(Line(done, status) + Eta(done));
                break;
        }
    }

    /// <summary>An info line: printed now, after the live bar ends, or (quiet) not at all.</summary>
    public void Message(string line)
    {
        if (_mode == Mode.Quiet)
            return;
        if (_render is not null)
            _held.Add(line);
        else
            Console.WriteLine(line);
    }

    /// <summary>Ends the live bar (leaving its last state on screen) and prints the lines it held back.</summary>
    public void Done()
    {
        if (_render is null)
            return;
        _finish!.SetResult();
        _render.GetAwaiter().GetResult();
        (_render, _bar) = (null, null);
        foreach (string line in _held)
            Console.WriteLine(line);
        _held.Clear();
    }

    public void Dispose() => Done();

    private const int BarWidth = 15, OtherColumns = BarWidth + 21; // percentage, ETA, spinner and the gaps

    /// <summary>The line cut to what the terminal leaves beside the bar: Spectre squeezes an overlong row to "…".</summary>
    private string Fit(string line)
    {
        int room = Math.Max(12, _width - OtherColumns);
        return Markup.Escape(line.Length <= room ? line : line[..(room - 1)] + "…");
    }

    private string Line(int done, string status) => $"{_description} {done}/{_total}" + (status.Length > 0 ? "  " + status : "");

    private string Eta(int done)
    {
        if (done <= _first || done >= _total)
            return "";
        var left = _clock.Elapsed * ((double)(_total - done) / (done - _first));
        return $"  eta {(left.TotalHours >= 1 ? $"{(int)left.TotalHours}h{left.Minutes:00}m" : $"{left.Minutes}m{left.Seconds:00}s")}";
    }
}
