using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using RawLongLoRA.Model;

namespace RawLongLoRA.Bench.Tokenize;

/// <summary>
/// `bench tokenize`: tokens/s of Tokenizer.Encode with the real Llama 2, Llama 3 and Qwen3 tokenizers
/// (the files the tokenizer tests fetch from npm) on prose, code, Chinese and a line without spaces (at
/// two lengths, to show the time is linear in it), against Hugging Face's tokenizers on the same files
/// and texts in the same run (bench/peer/tokenize_peer.mjs), both on one thread. Every row first checks
/// that our ids equal Hugging Face's, then times.
/// </summary>
public static class TokenizeBench
{
    public static readonly Verb Verb = new(
        "tokenize",
        "tokens/s of the Llama 2 / Llama 3 / Qwen3 tokenizers on prose, code, Chinese, a line without spaces, vs HF tokenizers",
        [
            ("--quick", "texts of 100K characters (lines of 100K and 200K letters), one round"),
            ("--only TEXT", "only the rows whose text or tokenizer name contains TEXT"),
            ("--line MB", "also one line of MB megabytes of Han characters (UTF-8), ours only, once (HF takes minutes): Encode, then a whole `rawlora train` start on it"),
        ],
        Run);

    private static readonly string[] Models = ["llama2", "llama3", "qwen3"];

    private static int Run(Options options, Report report)
    {
        bool quick = options.Flag("--quick");
        int size = quick ? 100_000 : 1_000_000, rounds = quick ? 1 : 3, runs = 3;
        using var peer = Peer.Start("node", "tokenize_peer.mjs", [], new() { ["RAYON_NUM_THREADS"] = "1", ["TOKENIZERS_PARALLELISM"] = "false" },
                                    hello => hello["tokenizers"] is { } v ? $"HF tokenizers {v}" : null, out string reason);
        if (peer is null)
        {
            report.Note($"bench tokenize needs node and npm (the tokenizer files and Hugging Face's tokenizers come from npm): {reason}");
            return 1;
        }
        report.Note($"ours: Tokenizer.Encode(text, addBos: false) on one thread; peer: {peer.Name} (its Node binding), RAYON_NUM_THREADS=1, "
            + $"encode(text, addSpecialTokens: false). Per row and round, each side encodes one text untimed, then {runs} more, each new to "
            + $"its word cache (as in a pass over a corpus): the median, best of {rounds} round{(rounds > 1 ? "s" : "")} over all rows in turn. "
            + "The first text's ids are checked equal to HF's before any timing");

        string only = options.Value("--only") ?? "";
        bool Wanted(string name, string model) =>
            name.Contains(only, StringComparison.OrdinalIgnoreCase) || model.Contains(only, StringComparison.OrdinalIgnoreCase);
        var scratch = Directory.CreateTempSubdirectory("rawlora-bench-tokenize-");
        int rc = 0;
        try
        {
            var rows = new List<Row>();
            void AddRow(string name, Func<int, string> make, Row? half = null)
            {
                if (!Models.Any(model => Wanted(name, model)))
                    return;
                var texts = Enumerable.Range(0, 1 + rounds * (runs + 1)).Select(i => make(1000 * rows.Count + i)).ToArray();
                var files = texts.Select((_, i) => Path.Combine(scratch.FullName, $"{rows.Count}-{i}.txt")).ToArray();
                for (int i = 0; i < texts.Length; i++)
                    File.WriteAllText(files[i], texts[i]);
                rows.Add(new Row(name, texts, files, half));
            }
            AddRow("English prose", seed => TokenizeTexts.Prose(size, seed));
            AddRow("Python code", seed => TokenizeTexts.Code(size, seed));
            AddRow("Chinese", seed => TokenizeTexts.Chinese(size, seed));
            AddRow($"no spaces {Short(size)}", seed => TokenizeTexts.Letters(size, seed));
            AddRow($"no spaces {Short(2 * size)}", seed => TokenizeTexts.Letters(2 * size, seed), rows.LastOrDefault(r => r.Name == $"no spaces {Short(size)}"));

            foreach (string model in Models)
            {
                var tokenizer = Tokenizer.Load(peer.Hello["models"]![model]!.GetValue<string>());
                // Every row checked before any is timed, which also gives the JIT time to finish optimising.
                var failures = rows.Where(r => Wanted(r.Name, model)).ToDictionary(r => r, r => Check(tokenizer, model, r, peer, scratch.FullName));
                // The rounds go over all rows in turn, so that a burst of other work on the machine does not
                // fall on one row's rounds only (it would skew the 2M / 1M ratio most).
                var passed = failures.Where(f => f.Value is null).Select(f => f.Key).ToList();
                var best = passed.ToDictionary(r => r, _ => (Tokens: 0.0, Ours: double.MaxValue, Peer: double.MaxValue));
                for (int round = 0; round < rounds; round++)
                {
                    foreach (var row in passed)
                    {
                        var (tokens, ours, theirs) = TimeRound(tokenizer, model, row, peer, round, runs);
                        best[row] = (tokens, Math.Min(best[row].Ours, ours), Math.Min(best[row].Peer, theirs));
                    }
                }
                foreach (var (row, failure) in failures)
                {
                    if (failure is not null)
                    {
                        rc = 1;
                        report.Add(new Record(row.Name, model, 0, "tokens/s") { Note = $"FAILED check: {failure}" });
                        continue;
                    }
                    var (tokens, ours, theirs) = best[row];
                    string note = $"{row.Texts[0].Length / 1e6:G3}M chars, {tokens / 1e3:F0}K tokens";
                    if (row.Half is { } h && best.TryGetValue(h, out var half))
                        note += $"; time ×{ours / half.Ours:F2} (HF ×{theirs / half.Peer:F2}) for twice the line";
                    report.Add(new Record(row.Name, model, tokens / ours, "tokens/s") { Peer = "HF", PeerValue = tokens / theirs, Note = note });
                }
            }
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
        if (options.Value("--line") is { } megabytes)
            rc |= LongLine(megabytes, peer, report);
        return rc;
    }

    /// <summary>One Encode of one long line of Han characters without punctuation per tokenizer, timed.</summary>
    private static int LongLine(string megabytes, Peer peer, Report report)
    {
        if (!double.TryParse(megabytes, CultureInfo.InvariantCulture, out double mb) || mb <= 0)
        {
            report.Note($"--line wants a positive number of megabytes, not '{megabytes}'");
            return 2;
        }
        string line = TokenizeTexts.HanLine((int)(mb * 1e6 / 3), seed: 5); // 3 UTF-8 bytes a character
        foreach (string model in Models)
        {
            string dir = peer.Hello["models"]![model]!.GetValue<string>();
            var tokenizer = Tokenizer.Load(dir);
            long t0 = Stopwatch.GetTimestamp();
            int tokens = tokenizer.Encode(line, addBos: false).Length;
            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            report.Add(new Record($"Han line {mb:G3} MB", model, tokens / seconds, "tokens/s")
            {
                Note = $"{line.Length / 1e6:G3}M chars, {tokens / 1e6:G3}M tokens in {seconds:F1} s, one run",
            });
            var scratch = Directory.CreateTempSubdirectory("rawlora-bench-line-");
            try
            {
                var (first, again, cached) = LongLineRun.Time(dir, line, scratch.FullName);
                report.Add(new Record($"train start, Han line {mb:G3} MB", model, first, "s")
                {
                    Note = $"tokenize into the cache ({cached / 1e6:G3}M tokens), pack, load, one step of 4,096 tokens; {again:F1} s again with the cache",
                });
            }
            finally
            {
                scratch.Delete(recursive: true);
            }
        }
        return 0;
    }

    /// <summary>The texts of one row (the first for the check, then each round's) and their files; Half: the row of a line half as long.</summary>
    private sealed record Row(string Name, string[] Texts, string[] Files, Row? Half);

    /// <summary>Our ids of the row's first text against the peer's; null when they are equal, else where they differ.</summary>
    private static string? Check(Tokenizer tokenizer, string model, Row row, Peer peer, string scratch)
    {
        string idsFile = Path.Combine(scratch, "ids");
        peer.Ask(new JsonObject { ["model"] = model, ["text_files"] = new JsonArray(row.Files[0]), ["ids_file"] = idsFile, ["runs"] = 0 });
        var theirs = MemoryMarshal.Cast<byte, int>(File.ReadAllBytes(idsFile)).ToArray();
        var ours = tokenizer.Encode(row.Texts[0], addBos: false);
        int same = ours.AsSpan().CommonPrefixLength(theirs);
        return same == ours.Length && same == theirs.Length ? null
            : $"ids differ from HF's at token {same} of {ours.Length} (HF: {theirs.Length}): ours {string.Join(",", ours.Skip(same).Take(5))}..., "
            + $"HF {string.Join(",", theirs.Skip(same).Take(5))}...";
    }

    /// <summary>
    /// One round of a row: the peer, then ours, each on the round's texts (the first untimed, the
    /// others new to both word caches); the medians, and the mean token count of the timed texts.
    /// </summary>
    private static (double Tokens, double Ours, double Peer) TimeRound(Tokenizer tokenizer, string model, Row row, Peer peer, int round, int runs)
    {
        int first = 1 + round * (runs + 1);
        var files = new JsonArray(row.Files[first..(first + runs + 1)].Select(f => (JsonNode)f!).ToArray());
        double theirs = peer.Ask(new JsonObject { ["model"] = model, ["text_files"] = files, ["runs"] = runs })["seconds"]!.GetValue<double>();
        var tokens = new List<int>();
        int next = first;
        var (ours, _) = Timing.Median(() =>
        {
            int count = tokenizer.Encode(row.Texts[next], addBos: false).Length;
            if (next++ > first)
                tokens.Add(count);
        }, new Timing.Plan(1, MinSeconds: 0, MinRuns: runs, MaxRuns: runs));
        return (tokens.Average(), ours, theirs);
    }

    private static string Short(int n) => n >= 1_000_000 ? $"{n / 1_000_000}M" : $"{n / 1000}K";
}
