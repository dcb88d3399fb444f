using System.Text.Json;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>The engine's own NFC (string.Normalize does nothing under InvariantGlobalization) against Python's unicodedata.</summary>
public class TokenizerNfcTests
{
    [Theory]
    [InlineData("e\u0301", "\u00E9")]
    [InlineData("\u212B", "\u00C5")] // a singleton: the Angstrom sign becomes Å
    [InlineData("a\u0302\u0323", "\u1EAD")] // marks put in canonical order (dot below first), then both compose
    [InlineData("a\u0301\u0301", "\u00E1\u0301")] // the second acute is blocked by the first
    [InlineData("\u0958", "\u0915\u093C")] // a composition exclusion stays decomposed
    [InlineData("\u1100\u1161\u11A8", "\uAC01")] // Hangul jamo L V T
    [InlineData("\uAC00\u11A8", "\uAC01")] // Hangul LV syllable + T
    [InlineData("\U0001D15E", "\U0001D157\U0001D165")] // outside the BMP
    [InlineData("\u0301e", "\u0301e")] // a leading mark has no starter to join
    public void Composes_as_the_standard_says(string input, string expected) =>
        Assert.Equal(expected, Nfc.Normalize(input));

    [Fact]
    public void Text_below_U0300_is_returned_as_is()
    {
        string text = "plain ASCII and Latin-1: caf\u00E9";
        Assert.Same(text, Nfc.Normalize(text));
    }

    [Fact]
    public void Long_text_changes_only_around_what_may_change()
    {
        string han = string.Concat(Enumerable.Repeat("中文，", 5000));
        Assert.Same(han, Nfc.Normalize(han)); // Han characters and CJK punctuation are in NFC and compose with nothing
        Assert.Equal(han + "\u00E9" + han + "\u00C5", Nfc.Normalize(han + "e\u0301" + han + "\u212B"));
    }

    [Fact]
    public void Equals_Pythons_unicodedata_on_random_strings()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(TokenizerFixtures.ReferenceDir, "nfc_cases.json")));
        var wrong = doc.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => (Input: c[0].GetString()!, Expected: c[1].GetString()!))
            .Where(c => Nfc.Normalize(c.Input) != c.Expected)
            .Select(c => $"{JsonSerializer.Serialize(c.Input)} -> {JsonSerializer.Serialize(Nfc.Normalize(c.Input))}, expected {JsonSerializer.Serialize(c.Expected)}")
            .ToList();
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }
}
