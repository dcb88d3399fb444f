using RawLongLoRA;
using RawLongLoRA.Model;
using RawLongLoRA.Training;

// A LongLoRA fine-tuning loop of your own, on the library's pieces: a Hugging Face model folder stretched to
// twice its context, a LoRA adapter (plus the embedding and norms), S2-Attn groups, windows of a text file as
// the data, a warmup + cosine schedule, gradient clipping, AdamW, checkpoints that resume exactly, and the
// adapter saved in PEFT's format. `rawlora train` does all of this with packing, SFT data and more options;
// this is the loop to start from when you want something else.
//
//   dotnet run --project samples/CustomLoop -- MODEL_DIR TEXT_FILE OUTPUT_DIR [--steps N] [--stop-after N]
//
// --stop-after N stops after step N as an interrupted run would, with a checkpoint; the same command without
// it then resumes from that checkpoint and ends where an uninterrupted run ends, bit for bit.

if (args.Length < 3)
{
    Console.Error.WriteLine("usage: CustomLoop MODEL_DIR TEXT_FILE OUTPUT_DIR [--steps N] [--stop-after N]");
    return 2;
}
string modelDir = args[0], textFile = args[1], output = args[2];
int steps = Option("--steps", 60), stopAfter = Option("--stop-after", steps);
const int Batch = 4, SaveEvery = 20;
const ulong Seed = 42;

// The model: its weights stay frozen; the adapter's A and B, the embedding and the norms train (float32).
using var model = CausalLM.Load(modelDir);
int context = 2 * model.Config.MaxPositionEmbeddings;
model.ExtendContext(context); // linear RoPE interpolation, LongLoRA's choice
model.AddAdapter("default", new LoraConfig { R = 8, Alpha = 16, Dropout = 0.05f, ModulesToSave = LoraConfig.EmbeddingAndNorms }, Seed);
model.GradientCheckpointing = true; // recompute each layer in backward: activation memory of one layer
model.Train();
var trainable = model.TrainableParameters();

int[] tokens = Tokenizer.Load(modelDir).Encode(File.ReadAllText(textFile));
if (tokens.Length <= context)
{
    Console.Error.WriteLine($"{textFile}: {tokens.Length} tokens; a window needs {context + 1}");
    return 1;
}

using var optimizer = new AdamW(trainable, new AdamWOptions { WeightDecay = 0.01, Decays = AdamWOptions.MatricesOnly });
var checkpoints = new TrainingCheckpoints(output, keepLast: 2, trainable, optimizer);
var state = new LoopState(Step: 0, RngOffset: 0);
Generator.Default.ManualSeed(Seed); // LoRA dropout draws from the default generator
if (checkpoints.Store.Latest() is { } latest)
{
    state = checkpoints.Restore<LoopState>(latest.Path);
    Generator.Default.Offset = state.RngOffset;
    Console.WriteLine($"resumed from {latest.Path} at step {state.Step}");
}

// S2-Attn while training: groups of a quarter of the context, half of the heads in groups shifted by half a group.
var s2Attn = new AttentionSpec { GroupSize = context / 4 };
foreach (int[][] rows in Windows(tokens, context + 1, Seed).Skip(state.Step * Batch).Chunk(Batch))
{
    if (state.Step == steps || state.Step == stopAfter)
        break;
    int step = state.Step + 1;
    double loss;
    using (new DisposeScope()) // frees every tensor of the forward and backward at the end of the step
    {
        var ids = Tensor.FromArray(rows.SelectMany(r => r[..^1]).Select(t => (long)t).ToArray(), [Batch, context]);
        var next = Tensor.FromArray(rows.SelectMany(r => r[1..]).Select(t => (long)t).ToArray());
        // The LM head and the cross-entropy in vocabulary tiles: the [tokens × vocab] logits never exist.
        var mean = model.Hidden(ids, spec: s2Attn).Reshape(Batch * context, -1).LinearCrossEntropy(model.HeadWeight, next);
        mean.Backward();
        loss = mean.Item();
    }
    var norm = GradClip.ClipByGlobalNorm(trainable.Select(p => p.Tensor), maxNorm: 1.0);
    float lr = LearningRate(step - 1, steps);
    if (double.IsFinite(loss) && norm.IsFinite)
        optimizer.Step(lr);
    optimizer.ZeroGrad();
    state = new LoopState(step, Generator.Default.Offset);
    Console.WriteLine($"step {step} loss {loss:F4} lr {lr:E2} grad_norm {norm.Norm:F3}");
    if (step % SaveEvery == 0 || step == stopAfter)
        Console.WriteLine($"checkpoint {checkpoints.Save(step, state).Path}");
}

if (state.Step == steps)
{
    string adapter = Path.Combine(output, "adapter");
    PeftAdapter.Save(model, "default", adapter, baseModelPath: Path.GetFullPath(modelDir));
    Console.WriteLine($"adapter {adapter}");
}
return 0;

int Option(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
}

// Linear warmup over 5 steps to 1e-2, then half a cosine down to a tenth of it at the last step.
static float LearningRate(int step, int total)
{
    const float Peak = 1e-2f;
    const int Warmup = 5;
    if (step < Warmup)
        return Peak * (step + 1) / Warmup;
    float progress = (float)(step - Warmup) / Math.Max(1, total - Warmup);
    return Peak * (0.1f + 0.9f * 0.5f * (1 + MathF.Cos(MathF.PI * progress)));
}

// The data: an endless stream of windows of the text at places drawn from the seed, so that a resumed run
// that skips the windows it already used reads the same ones an uninterrupted run reads.
static IEnumerable<int[]> Windows(int[] tokens, int length, ulong seed)
{
    var random = new Random((int)seed);
    while (true)
    {
        int start = random.Next(tokens.Length - length + 1);
        yield return tokens[start..(start + length)];
    }
}

/// <summary>What a checkpoint of this loop holds besides tensors: the step done and the dropout stream's position.</summary>
internal sealed record LoopState(int Step, ulong RngOffset);
