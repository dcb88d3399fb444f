using Spectre.Console;

namespace RawLongLoRA.Cli;

/// <summary>
/// A verb's closing table: a bordered Spectre table on a terminal, aligned plain columns elsewhere (a
/// log or CI keeps them readable). Printed with --quiet too: it is what a quiet run says. Headers that
/// are all empty make a key/value table without a header row.
/// </summary>
internal static class SummaryTable
{
    public static void Print(string title, string[] headers, IEnumerable<string[]> rows)
    {
        var body = rows.ToList();
        if (body.FirstOrDefault(r => r.Length != headers.Length) is { } bad)
            throw new ArgumentException($"a row of {bad.Length} cells under {headers.Length} headers", nameof(rows));
        bool headed = headers.Any(h => h.Length > 0);
        if (Terminal.IsInteractive)
        {
            var table = new Table { Title = new TableTitle(Markup.Escape(title)), ShowHeaders = headed };
            table.AddColumns([.. headers.Select(h => new TableColumn(Markup.Escape(h)))]);
            foreach (var row in body)
                table.AddRow([.. row.Select(Markup.Escape)]);
            Terminal.Ansi().Write(table);
            return;
        }
        int[] widths = [.. headers.Select((h, c) => body.Select(r => r[c].Length).Append(h.Length).Max())];
        Console.WriteLine(title);
        if (headed)
        {
            Console.WriteLine(Row(headers));
            Console.WriteLine(Row([.. widths.Select(w => new string('-', w))]));
        }
        foreach (var row in body)
            Console.WriteLine(Row(row));

        string Row(string[] cells) => string.Join("  ", cells.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd();
    }
}
