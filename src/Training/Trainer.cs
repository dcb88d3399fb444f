using System.Diagnostics;
using RawLongLoRA.Distributed;
using RawLongLoRA.Model;
using RawLongLoRA.Profiling;

namespace RawLongLoRA.Training;

/// <summary>
/// A LongLoRA fine-tuning run: the base model stretched to the target context by RoPE scaling, a LoRA
/// adapter (plus the modules it trains in full), packed data, AdamW with a schedule and clipping,
/// gradient accumulation, checkpoints that resume the run exactly, and the adapter in PEFT's format at
/// the end. A step whose loss or gradient is NaN/Inf is skipped and counted; too many in a row stop
/// the run with the last good checkpoint untouched. Cancelling writes a checkpoint after the step in
/// flight, then returns.
/// <para>
/// On more than one rank (a world communicator: mpirun's, or in-process ranks in tests) the ranks form a
/// <see cref="ParallelGrid"/> of data-parallel replicas of sequence-parallel groups (<see cref="TrainOptions.SpSize"/>):
/// every rank reads the same global batches (batch_size rows per data-parallel rank, in the order one process with
/// that batch size would read them) and <see cref="ParallelStep"/> takes its rows and shard of them. Rank 0 alone
/// claims the output folder, tokenizes into the token cache first (the others then reuse it), and writes logs,
/// metrics.jsonl, loss.png, checkpoints, train_options.json and the adapter; after each checkpoint the ranks meet, so
/// none runs ahead of a checkpoint that may yet fail. Every rank resumes from rank 0's checkpoint in the same folder:
/// ranks on several machines need that folder on a file system they all see.
/// </para>
/// </summary>
public sealed class Trainer : IDisposable
{
    /// <summary>The name the run's adapter has in the model.</summary>
    public const string AdapterName = "default";
    private const string OptionsFile = "train_options.json";

    /// <summary>What a run writes into its output folder: all that --overwrite deletes (the token cache stays: its key tells when it is stale).</summary>
    public static readonly IReadOnlyList<string> Written =
        ["checkpoint-*", ".tmp-checkpoint-*", "adapter", MetricsLog.FileName, "loss.png", OptionsFile];

    /// <summary>What a run leaves before its first checkpoint: a folder holding only these is started again without --overwrite.</summary>
    private static readonly IReadOnlyList<string> Leftovers =
        [".tmp-checkpoint-*", MetricsLog.FileName, "loss.png", OptionsFile, TrainingData.CacheFolder, TrainingData.CacheFolder + ".tmp-*"];

    private readonly TrainOptions _o;
    private readonly Action<StepLog>? _onStep;
    private readonly Action<string>? _onMessage;
    private readonly CausalLM _model;
    private readonly PackedDataset _dataset;
    private readonly DataLoader _loader;
    private readonly AdamW _optimizer;
    private readonly LrSchedule _schedule;
    private readonly TrainingCheckpoints _checkpoints;
    private readonly IReadOnlyList<(string Name, Tensor Tensor)> _trainable;
    private readonly string _dataFingerprint = "";
    private readonly ICommunicator? _world;
    private readonly ParallelGrid? _grid;
    private readonly ParallelStep _step;
    private TrainerState _state;

    /// <summary>
    /// Checks the step fits in memory, claims the output folder, loads the model and its adapter (a LoRA
    /// option that fits no module fails before any tokenizing), prepares the data (tokenized once into
    /// the token cache, or reused from it) and, with <see cref="TrainOptions.Resume"/>, the newest
    /// checkpoint, refused when another run wrote it (<see cref="RunIdentity"/>; a folder with no checkpoint is
    /// claimed as a fresh run's). <paramref name="cancel"/> stops the preparation between batches of documents.
    /// With <paramref name="world"/> (which the trainer uses, not owns) this process is one rank of a parallel run:
    /// every rank constructs its trainer with the same options, and only rank 0 reports through the callbacks.
    /// </summary>
    public Trainer(TrainOptions options, Action<StepLog>? onStep = null, Action<string>? onMessage = null,
                   IProgress<DataProgress>? dataProgress = null, CancellationToken cancel = default, ICommunicator? world = null)
    {
        options.Validate();
        var kind = options.SpKind!.Value;
        if (kind != SequenceParallel.None && world is null)
            throw new ArgumentException($"train: sp (--sp) is {options.Sp}, which shares rows among ranks, but this is a single process; launch it under mpirun -np N");
        _world = world;
        if (!IsLead)
            (onStep, onMessage, dataProgress) = (null, null, null);
        (_o, _onStep, _onMessage) = (options, onStep, onMessage);
        if (options.MemoryCheck && IsLead)
            StepMemory.Check(ModelFolder.Config(options.Model), options, world?.Size ?? 1);
        // Rank 0 claims the folder and fills the token cache before the others look at either.
        if (!IsLead)
            world!.Barrier();
        // --resume with no checkpoint to continue is a fresh run, and claims the folder as one.
        var resume = options.Resume ? new CheckpointStore(options.Output, 1).Latest() : null;
        if (resume is null && IsLead && OutputFolder.Claim(options.Output, Written, options.Overwrite, options.Resume
                    ? "it holds no checkpoint to resume; pass --overwrite instead of --resume to start again there (deletes only what a run wrote)"
                    : "pass --overwrite to start again there (deletes only what a run wrote) or --resume to continue its run", Leftovers))
            onMessage?.Invoke($"{options.Output} held a run that stopped before its first checkpoint; starting it again");
        _model = CausalLM.Load(options.Model, options.TargetDevice, options.WeightDType);
        try
        {
            _model.ExtendContext(options.Context ?? options.MaxLength, options.RopeKind);
            _model.AddAdapter(AdapterName, options.Lora, options.Seed);
            var tokenizer = ModelFolder.Tokenizer(options.Model);
            var dataOptions = new DataOptions { MaxLength = options.MaxLength, TextField = options.TextField };
            var cache = TrainingData.Prepare(options.Data, options.Model, tokenizer, options.Format, dataOptions,
                                             options.DataCache ?? Path.Combine(options.Output, TrainingData.CacheFolder), dataProgress, onMessage, cancel);
            _dataFingerprint = DataFingerprint.Of(cache);
            _dataset = TrainingData.Pack(cache, options.Data, tokenizer, dataOptions);
        }
        catch
        {
            _model.Dispose();
            throw;
        }
        if (IsLead)
            world?.Barrier();
        try
        {
            _grid = world is null ? null : new ParallelGrid(world, options.SpSize);
            int globalBatch = options.BatchSize * (_grid?.DpSize ?? 1);
            if (_dataset.RowCount < globalBatch)
                throw new ArgumentException($"train: the data packs into {_dataset.RowCount} rows of {options.MaxLength} tokens, fewer than batch_size {options.BatchSize}" +
                                            (globalBatch > options.BatchSize ? $" × {_grid!.DpSize} data-parallel ranks = {globalBatch}" : ""));
            _model.GradientCheckpointing = options.GradientCheckpointing;
            _model.Train();
            _trainable = _model.TrainableParameters();
            _step = new ParallelStep(_model, [.. _trainable.Select(p => p.Tensor)], _grid, kind, options.RingZigZag);
            TotalSteps = options.MaxSteps ?? Math.Max(1, options.Epochs * (_dataset.RowCount / globalBatch) / options.GradAccum);
            _schedule = LrSchedule.Parse(options.Schedule, options.Lr, options.WarmupSteps, TotalSteps);
            _optimizer = new AdamW(_trainable, new AdamWOptions
            {
                Lr = options.Lr, Beta1 = options.AdamBeta1, Beta2 = options.AdamBeta2, Eps = options.AdamEps, WeightDecay = options.WeightDecay,
                Decays = AdamWOptions.ExceptBiasesNormsEmbedding,
            });
            _checkpoints = new TrainingCheckpoints(options.Output, options.SaveTotalLimit, _trainable, _optimizer);
            _state = new TrainerState { Seed = options.Seed, Run = RunIdentity.Of(options, _dataFingerprint, TotalSteps, _grid?.DpSize ?? 1) };
            Generator.Default.ManualSeed(options.Seed);
            if (resume is not null)
                Restore(resume.Path);
            _loader = new DataLoader(_dataset, globalBatch, options.Seed, _state.Cursor);
        }
        catch
        {
            _step?.Dispose();
            _grid?.Dispose();
            _model.Dispose();
            _dataset.Dispose();
            throw;
        }
    }

    /// <summary>Whether this process writes the run's files and reports: a single process, or rank 0 of the world.</summary>
    public bool IsLead => _world is null || _world.Rank == 0;

    /// <summary>The model being trained (owned by the trainer: disposed with it).</summary>
    public CausalLM Model => _model;
    /// <summary>What tokenizing and packing the data counted.</summary>
    public DataStats Data => _dataset.Stats;
    /// <summary>
    /// The optimizer steps the run makes: max_steps, or epochs × the batches an epoch holds / grad_accum.
    /// </summary>
    public int TotalSteps { get; }
    /// <summary>
    /// Where the run stands: the step done, the data cursor, the RNG offset and the fault counters.
    /// </summary>
    public TrainerState State => _state;

    /// <summary>The PEFT adapter folder the run ends with: Output/adapter.</summary>
    public string AdapterDir => Path.Combine(_o.Output, "adapter");

    /// <summary>Every logged step of the run, resumed sessions included: Output/metrics.jsonl.</summary>
    public string MetricsPath => Path.Combine(_o.Output, MetricsLog.FileName);

    /// <summary>The loss and learning-rate curves, drawn when the run ends or stops: Output/loss.png.</summary>
    public string PlotPath => Path.Combine(_o.Output, "loss.png");

    /// <summary>
    /// Runs to <see cref="TotalSteps"/> (or until <paramref name="stop"/>), checkpointing as told, and
    /// ends with a checkpoint, the adapter (when it finished) and loss.png; true when it finished.
    /// </summary>
    public bool Run(CancellationToken stop = default)
    {
        if (IsLead)
        {
            Directory.CreateDirectory(_o.Output);
            File.WriteAllText(Path.Combine(_o.Output, OptionsFile), _o.ToJson());
            // Steps logged after the checkpoint this run continues from are done again: their old lines go.
            MetricsLog.KeepUpTo(MetricsPath, _state.Step);
        }
        int first = _state.Step;
        bool alreadyDone = first >= TotalSteps, finished;
        using (var metrics = IsLead ? new MetricsLog(MetricsPath) : null)
            finished = RunSteps(metrics, stop);
        if (alreadyDone)
            _onMessage?.Invoke($"the run had finished already (step {_state.Step} of {TotalSteps})");
        else if (_state.Step > first)
            Save();
        if (finished && IsLead && !(alreadyDone && Directory.Exists(AdapterDir)))
            SaveAdapter(AdapterDir);
        else if (!finished)
            _onMessage?.Invoke(_state.Step > first
                ? $"stopped at step {_state.Step}; checkpoint written, run again with --resume to continue"
                : $"stopped before step {_state.Step + 1}; nothing new to save");
        if (IsLead)
            WritePlot();
        // No rank returns before the adapter and the plot are there.
        _world?.Barrier();
        return finished;
    }

    private bool RunSteps(MetricsLog? metrics, CancellationToken stop)
    {
        while (_state.Step < TotalSteps)
        {
            if (Stopped(stop))
                return false;
            var entry = Step();
            if (entry.Step % _o.LoggingSteps == 0 || entry.Skipped || entry.Step == TotalSteps)
            {
                metrics?.Write(entry);
                _onStep?.Invoke(entry);
            }
            if (_state.BadStepsInARow >= _o.MaxBadSteps)
                throw new TrainingException($"train: {_state.BadStepsInARow} steps in a row had a NaN or infinite loss or gradient (step {entry.Step}); stopped. " +
                                            (_checkpoints.Store.Latest() is { } last ? $"The last good checkpoint is {last.Path}." : "No checkpoint was written yet.") +
                                            " Lower lr, or check the data.");
            // No periodic checkpoint inside a run of NaN/Inf steps: keep-last-N must not push out the good ones.
            if (_o.SaveSteps > 0 && _state.Step % _o.SaveSteps == 0 && _state.Step < TotalSteps && _state.BadStepsInARow == 0)
                Save();
        }
        return true;
    }

    /// <summary>
    /// Whether to stop before the next step: cancelled here or, on more than one rank, on any rank (a signal may reach
    /// only some), so that all stop after the same step.
    /// </summary>
    private bool Stopped(CancellationToken stop)
    {
        if (_world is null)
            return stop.IsCancellationRequested;
        using var any = Tensor.FromArray(new[] { stop.IsCancellationRequested ? 1 : 0 }, device: _model.Device);
        _world.AllReduce(any);
        return any.ToArray<int>()[0] > 0;
    }

    /// <summary>
    /// loss.png from the whole metrics.jsonl. A plot that cannot be drawn is reported, not fatal: the
    /// checkpoint and the adapter are written by then.
    /// </summary>
    private void WritePlot()
    {
        try
        {
            var steps = MetricsLog.Read(MetricsPath);
            if (steps.Count > 0)
                TrainingPlots.LossAndLr(PlotPath, steps);
        }
        catch (Exception e) when (e is IOException or FormatException or DllNotFoundException or TypeInitializationException)
        {
            _onMessage?.Invoke($"loss.png not written: {e.Message}");
        }
    }

    /// <summary>
    /// One optimizer step over grad_accum (global) batches. The loss is the mean over every counted target of
    /// those batches (<see cref="ParallelStep"/>: on several ranks the gradients and the loss are summed over them
    /// before clipping, so every rank clips and steps alike). The losses are summed and the gradients clipped on the
    /// model's device; the loss and the gradient norm come back in one read, the only one of the step.
    /// </summary>
    public StepLog Step()
    {
        using var profile = Profiler.Record(Profiler.StepScope);
        var clock = Stopwatch.StartNew();
        Storage.ResetPeak();
        var batches = Enumerable.Range(0, _o.GradAccum).Select(_ => _loader.Next()).ToList();
        var backend = _model.Device.Backend;
        // [loss, grad norm]: filled on the device, read once.
        using var result = Tensor.Zeros([2], DType.F32, _model.Device);
        using (var loss = result.Narrow(0, 0, 1))
            _step.Run(batches, _o.GroupSize, _o.ComputePrecision, loss);
        var grads = _trainable.Select(p => p.Tensor.Grad).OfType<Tensor>().ToList();
        if (grads.Count > 0)
        {
            using var normOut = result.Narrow(0, 1, 1);
            using var norm = _o.MaxGradNorm > 0 ? GradClip.ClipOnDevice(grads, _o.MaxGradNorm) : GradClip.GlobalNormOnDevice(grads);
            backend.Copy(normOut, norm);
        }
        var read = result.ToFloatArray();
        var (lossValue, normValue) = ((double)read[0], (double)read[1]);
        int step = _state.Step + 1;
        float lr = _schedule.At(step - 1);
        bool bad = !double.IsFinite(lossValue) || !double.IsFinite(normValue);
        if (!bad)
            _optimizer.Step(lr);
        _optimizer.ZeroGrad();
        _state = _state with
        {
            Step = step,
            Cursor = _loader.Cursor,
            RngOffset = Generator.Default.Offset,
            SkippedSteps = _state.SkippedSteps + (bad ? 1 : 0),
            BadStepsInARow = bad ? _state.BadStepsInARow + 1 : 0,
        };
        return new StepLog(step, TotalSteps, lossValue, lr, normValue, batches.Sum(b => (long)b.Rows * b.Length), clock.Elapsed.TotalSeconds, bad,
                           Storage.PeakBytes, ProcessMemory.ResidentBytes, ProcessMemory.PeakResidentBytes, Storage.MappedBytes);
    }

    /// <summary>
    /// Writes checkpoint-&lt;step&gt;: the trained tensors, the optimizer state and <see cref="TrainerState"/>. On several
    /// ranks rank 0 writes (the others hold the same tensors) and every rank returns once it is written.
    /// </summary>
    public void Save()
    {
        if (IsLead)
            _checkpoints.Save(_state.Step, _state);
        _world?.Barrier();
    }

    private void Restore(string path)
    {
        var run = _state.Run!;
        _state = _checkpoints.Restore<TrainerState>(path, saved =>
        {
            if (saved.Run?.Difference(run) is { } differ)
                throw new TrainingException($"train: --resume: {path} is another run's checkpoint ({differ}); give that run's options, or start this one in another output");
        });
        if (_state.Run is null)
            _onMessage?.Invoke($"{path} does not say which run wrote it (an older checkpoint); resuming without checking the options");
        _state = _state with { Run = run };
        Generator.Default.Offset = _state.RngOffset;
        _onMessage?.Invoke($"resumed from {path} (step {_state.Step})");
    }

    private void SaveAdapter(string dir) => PeftAdapter.Save(_model, AdapterName, dir, Path.GetFullPath(_o.Model));

    /// <summary>Frees the model, the optimizer state and the data (unmapping the token cache).</summary>
    public void Dispose()
    {
        _step?.Dispose();
        _grid?.Dispose();
        _optimizer?.Dispose();
        _model.Dispose();
        _dataset.Dispose();
    }
}
