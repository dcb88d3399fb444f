using RawLongLoRA.Model;
using RawLongLoRA.Training;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>Pretraining documents from .txt and .jsonl files, tokenized with the committed tiny tokenizers and packed.</summary>
public class PackedDatasetTests
{
    private const long X = TrainingBatch.IgnoreIndex;
    private static readonly Tokenizer ByteLevel = Tokenizer.Load(TokenizerFixtures.Tiny("bytelevel"));

    private static TrainingBatch All(PackedDataset dataset) => dataset.Batch([.. Enumerable.Range(0, dataset.RowCount)]);

    [Fact]
    public void ATextFileIsOneDocumentAndAJsonlLineIsOne()
    {
        using var dir = new TokenizerTempDir();
        File.WriteAllText(dir.File("a.txt"), "abc");
        File.WriteAllText(dir.File("b.jsonl"), "{\"text\": \"ab\"}\n\n{\"text\": \"c\", \"id\": 7}\n");
        File.WriteAllText(dir.File("notes.md"), "not data");

        var dataset = PackedDataset.FromDocuments([dir.Path], ByteLevel, new DataOptions { MaxLength = 8 });
        var batch = All(dataset);

        // a=122 b=123 c=124, EOS <|im_end|>=26, pad <|endoftext|>=24; this tokenizer adds no BOS.
        Assert.Equal([122, 123, 124, 26, 122, 123, 26, 24, /**/ 124, 26, 24, 24, 24, 24, 24, 24], batch.Ids);
        Assert.Equal([123, 124, 26, X, 123, 26, X, X, /**/ 26, X, X, X, X, X, X, X], batch.Targets);
        Assert.Equal([0, 1, 2, 3, 0, 1, 2, 0, /**/ 0, 1, 0, 1, 2, 3, 4, 5], batch.Positions);
        Assert.Equal([0, 4, 7, 8, 10], batch.SequenceStarts);
        Assert.Equal((3, 0, 2, 9L, 7L), (dataset.Stats.Samples, dataset.Stats.Skipped, dataset.Stats.Rows, dataset.Stats.Tokens, dataset.Stats.PaddingTokens));
    }

    [Fact]
    public void ATokenizerThatAddsBosPutsItBeforeEveryDocument()
    {
        using var dir = new TokenizerTempDir();
        File.WriteAllText(dir.File("a.jsonl"), "{\"text\": \"hello\"}\n{\"text\": \"hello\"}\n");
        var sentencePiece = Tokenizer.Load(TokenizerFixtures.Tiny("sentencepiece"));

        var batch = All(PackedDataset.FromDocuments([dir.File("a.jsonl")], sentencePiece, new DataOptions { MaxLength = 6 }));

        // <s>=1 "▁hello"=20 </s>=2.
        Assert.Equal([1, 20, 2, 1, 20, 2], batch.Ids);
        Assert.Equal([20, 2, X, 20, 2, X], batch.Targets);
        Assert.Equal([0, 3], batch.SequenceStarts);
    }

    [Fact]
    public void FilesArePackedInTheOrderGivenAndTheTextFieldCanBeNamed()
    {
        using var dir = new TokenizerTempDir();
        File.WriteAllText(dir.File("b.jsonl"), "{\"body\": \"b\", \"text\": 5}\n");
        File.WriteAllText(dir.File("a.jsonl"), "{\"body\": \"a\"}\n");

        var options = new DataOptions { MaxLength = 4, TextField = "body" };
        var batch = All(PackedDataset.FromDocuments([dir.File("b.jsonl"), dir.File("a.jsonl")], ByteLevel, options));

        Assert.Equal([123, 26, 122, 26], batch.Ids);
    }

    [Fact]
    public void EmptyDocumentsAreSkippedAndCounted()
    {
        using var dir = new TokenizerTempDir();
        File.WriteAllText(dir.File("a.jsonl"), "{\"text\": \"\"}\n{\"text\": \"a\"}\n");
        File.WriteAllText(dir.File("b.txt"), "");

        var dataset = PackedDataset.FromDocuments([dir.Path], ByteLevel, new DataOptions { MaxLength = 2 });

        Assert.Equal((1, 2), (dataset.Stats.Samples, dataset.Stats.Skipped));
        Assert.Equal([122, 26], All(dataset).Ids);
    }

    [Fact]
    public void ALongDocumentIsSplitAndCounted()
    {
        using var dir = new TokenizerTempDir();
        File.WriteAllText(dir.File("a.txt"), "abcxyz");

        var dataset = PackedDataset.FromDocuments([dir.File("a.txt")], ByteLevel, new DataOptions { MaxLength = 4 });
        var batch = All(dataset);

        Assert.Equal([122, 123, 124, 138, /**/ 139, 140, 26, 24], batch.Ids);
        Assert.Equal([123, 124, 138, X, /**/ 140, 26, X, X], batch.Targets);
        Assert.Equal([0, 1, 2, 3, /**/ 0, 1, 2, 0], batch.Positions);
        Assert.Equal(1, dataset.Stats.SplitDocuments);
    }
}
