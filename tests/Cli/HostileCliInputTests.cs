using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RawLongLoRA.Model;
using Xunit;

namespace RawLongLoRA.Tests;

/// <summary>
/// What a hostile new user types, one row a case: the command line and a distinctive part of the one line
/// rawlora must answer. Every row must fail before any work: exit code 1, stderr exactly one line
/// "rawlora: error: ...", no stack trace, nothing on stdout (no help dump), nothing at the output path.
/// </summary>
[Collection(SerialCollection.Name)]
public class HostileCliInputTests(HostileCliInputTests.Sandbox sandbox) : IClassFixture<HostileCliInputTests.Sandbox>
{
    // In a command line, 'quoted text' is one argument ('' an empty one) and these name files in the sandbox:
    //   {m} a tiny model folder with its tokenizer   {v} the same with a tokenizer larger than the model
    //   {d} a jsonl of documents                     {f} a plain file         {e} an empty folder
    //   {c} a model folder whose config.json is not JSON   {s} one whose model.safetensors is garbage
    //   {a} an adapter folder with lora_dropout 1.5   {t} the sandbox          {cfg:NAME} the config file NAME.json below
    //   {o} an output path that must not exist after the run (checked)
    //   {run} an output folder that a run failing after the model loads may leave behind, empty
    //         (its rows fail once work has begun, so they may print progress)
    private const string Train = "train --model {m} --data {d} --output {o}";

    public static TheoryData<string, string> Cases => new()
    {
        // Parse errors: one line and a pointer to --help, never the help itself.
        { "", "rawlora: error: no verb given (inspect, forward, generate, tokenize, train, plan, merge, demo, eval); run 'rawlora --help' for the verbs" },
        { "frobnicate", "rawlora: error: 'frobnicate' is not a verb (inspect, forward, generate, tokenize, train, plan, merge, demo, eval); run 'rawlora --help'" },
        { "eval", "rawlora: error: no verb given (ppl, passkey); run 'rawlora eval --help' for the verbs" },
        { "eval perplexity {m}", "rawlora: error: 'perplexity' is not a verb (ppl, passkey); run 'rawlora eval --help' for the verbs" },
        { "train --bogus", "rawlora: error: Unrecognized command or argument '--bogus'; run 'rawlora train --help' for the options" },
        { $"{Train} --seed -1", "rawlora: error: --seed: '-1' is not a whole number from 0 to 18446744073709551615; run 'rawlora train --help' for the options" },
        { $"{Train} --max-length abc", "--max-length: 'abc' is not a whole number (at most 2147483647)" },
        { $"{Train} --max-length 99999999999", "--max-length: '99999999999' is not a whole number (at most 2147483647)" },
        { $"{Train} --lr fast", "--lr: 'fast' is not a number" },
        { $"{Train} --s2-attn maybe", "Unrecognized command or argument 'maybe'" },
        { $"{Train} --max-steps 1 --max-steps 2", "Option '--max-steps' expects a single argument but 2 were provided" },
        { "generate", "generate: the <dir> argument is missing (A Hugging Face model folder)" },
        { "generate {m}", "Option '--prompt' is required; run 'rawlora generate --help' for the options" },
        { "forward {m} --ids 1 --out", "Required argument missing for option: '--out'" },
        { "eval passkey {m} --lengths 300 --seed 1.5", "--seed: '1.5' is not a whole number from 0" },

        // tokenize: the same rules, and an --out that is a token cache or nothing.
        { "tokenize {d} --out {o}", "Option '--model' is required; run 'rawlora tokenize --help' for the options" },
        { "tokenize --model {m} --out {o}", "tokenize: the <data> argument is missing" },
        { "tokenize {d} --model {m} --out {f}", "is a file; expected a folder" },
        { "tokenize {d} --model {m} --out {t}", "holds other things than a token cache; give a new or empty folder" },
        { "tokenize {d} --model {m} --out {o} --format bogus", "rawlora: error: --format: 'bogus' is not one of pretrain, sft" },
        { "tokenize {d} --model {m} --out {o} --max-length 1", "--max-length: expected at least 2 (a token and its target), got 1" },
        { "tokenize {d} --model {v} --out {o}", "ids past the model's embedding cannot be used" },
        { "tokenize {e} --model {m} --out {o}", "folder holds no .txt or .jsonl files" },

        // train: every option names its flag (and its --config key) and what it takes.
        { "train", "rawlora: error: train: model (--model) is required (a Hugging Face model folder)" },
        { "train --model {m}", "train: data (--data) is required" },
        { "train --model '' --data {d} --output {o}", "train: model (--model) is required" },
        { "train --model {m} --data '' --output {o}", "train: data (--data) holds an empty path" },
        { $"{Train} --lr NaN", "rawlora: error: train: lr (--lr) must be a positive number" },
        { $"{Train} --lr Infinity", "train: lr (--lr) must be a positive number" },
        { $"{Train} --lr 1e50", "train: lr (--lr) must be a positive number" },
        { $"{Train} --lr -1", "train: lr (--lr) must be a positive number" },
        { $"{Train} --lora-r 0", "rawlora: error: train: lora_r (--lora-r) must be at least 1" },
        { $"{Train} --lora-r 100000", "train: lora_r (--lora-r) is 100000, past the model's hidden size (64)" },
        { $"{Train} --lora-alpha 0", "train: lora_alpha (--lora-alpha) must be a positive number" },
        { $"{Train} --lora-alpha NaN", "train: lora_alpha (--lora-alpha) must be a positive number" },
        { $"{Train} --lora-dropout 1.5", "rawlora: error: train: lora_dropout (--lora-dropout) must be in [0, 1)" },
        { $"{Train} --lora-dropout NaN", "train: lora_dropout (--lora-dropout) must be in [0, 1)" },
        { $"{Train} --target-modules ''", "train: target_modules (--target-modules) is empty" },
        { $"{Train} --text-field ''", "train: text_field (--text-field) is empty" },
        { $"{Train} --group-ratio NaN", "train: group_ratio (--group-ratio) must be in (0, 1]" },
        { $"{Train} --group-ratio 0.3 --max-length 16", "train: group_ratio (--group-ratio) gives S2-Attn groups of 5 tokens" },
        { $"{Train} --max-length 0", "train: max_length (--max-length) must be at least 2" },
        { $"{Train} --max-length 20000000", "train: max_length 20000000 × batch_size 1 needs about " },
        { $"{Train} --max-length 2000000000 --batch-size 4", "GiB available. Lower --max-length or --batch-size" },
        { $"{Train} --max-length 16 --context 8", "train: context (--context) must be at least max_length (16)" },
        { $"{Train} --batch-size 0", "train: batch_size (--batch-size) must be at least 1" },
        { $"{Train} --grad-accum 0", "train: grad_accum (--grad-accum) must be at least 1" },
        { $"{Train} --max-steps 0", "train: max_steps (--max-steps) must be at least 1" },
        { $"{Train} --epochs 0", "train: epochs (--epochs) must be at least 1" },
        { $"{Train} --warmup-steps -1", "train: warmup_steps (--warmup-steps) must not be negative" },
        { $"{Train} --schedule bogus", "train: schedule (--schedule) is 'bogus'; expected constant, cosine, linear" },
        { $"{Train} --weight-decay NaN", "train: weight_decay (--weight-decay) must be a number, not negative" },
        { $"{Train} --adam-beta1 1", "train: adam_beta1 (--adam-beta1) must be in [0, 1)" },
        { $"{Train} --adam-beta2 -0.5", "train: adam_beta2 (--adam-beta2) must be in [0, 1)" },
        { $"{Train} --adam-eps -1", "train: adam_eps (--adam-eps) must be a number, not negative" },
        { $"{Train} --max-grad-norm NaN", "train: max_grad_norm (--max-grad-norm) must not be negative" },
        { $"{Train} --save-steps -1", "train: save_steps (--save-steps) must not be negative" },
        { $"{Train} --save-total-limit 0", "train: save_total_limit (--save-total-limit) must be at least 1" },
        { $"{Train} --logging-steps 0", "train: logging_steps (--logging-steps) must be at least 1" },
        { $"{Train} --max-bad-steps 0", "train: max_bad_steps (--max-bad-steps) must be at least 1" },
        { $"{Train} --device tpu:0", "train: device (--device) is 'tpu:0'; expected cpu, cuda:N or privateuseone:N" },
        { $"{Train} --device cuda:7", "train: device (--device) is 'cuda:7', which nothing here serves: cuda:7: this machine has " },
        { $"{Train} --format bogus", "train: format (--format) is 'bogus'; expected pretrain or sft" },
        { $"{Train} --rope-scaling bogus", "train: rope_scaling (--rope-scaling) is 'bogus'; expected linear, dynamic, yarn" },
        { $"{Train} --weight-dtype f64", "train: weight_dtype (--weight-dtype) is 'f64'; expected f32, bf16 or f16" },
        { $"{Train} --precision fp16", "train: precision (--precision) is 'fp16'; expected fp32 or bf16" },
        { $"{Train} --resume --overwrite", "train: overwrite and resume (--overwrite, --resume) contradict each other; give one" },
        { "train --model {f} --data {d} --output {o}", "{f}: is a file, not a model folder (a Hugging Face model folder holds config.json, *.safetensors and the tokenizer files)" },
        { "train --model {e} --data {d} --output {o}", "{e}: holds no config.json, so it is not a model folder" },
        { "train --model {t}/nowhere --data {d} --output {o}", "{t}/nowhere: no such folder" },
        { "train --model {v} --data {d} --output {o}", "has 401 tokens but {v}/config.json has vocab_size 300" },
        { "train --model {m} --data {t}/nowhere.jsonl --output {o}", "{t}/nowhere.jsonl: file not found" },
        { "train --model {m} --data {e} --output {o}", "{e}: folder holds no .txt or .jsonl files" },
        { "train --model {m} --data {d} --output {f}", "--output: {f} is a file; expected a folder" },
        { "train --model {m} --data {d} --output {f}/run", "--output: {f} is a file; expected a folder" },
        { "train --model {m} --data {d} --output /proc/rawlora-run", "--output: /proc/rawlora-run cannot be written (no file can be created in /proc)" },
        { "train --model {m} --data {d} --output {m}", "{m} exists and is not empty; pass --overwrite" },
        { "train --model {m} --data {d} --output {run} --target-modules bogus", "lora: target_modules [bogus] match no linear layer of this model" },
        { "train --model {m} --data {d} --output {run} --modules-to-save bogus", "lora: modules_to_save 'bogus' matches no embedding or norm" },
        { "train --model {m} --data {m}/model.safetensors --output {run}", "{m}/model.safetensors: unknown kind of file; expected .txt (one document) or .jsonl" },
        { "train --model {m} --data {d} --output {run} --text-field body", "{d}:1: body: missing or null; expected a string" },

        // train --config: bad JSON, unknown keys, wrong types, all named by file and key.
        { "train --config {cfg:not-json}", "{t}/not-json.json: not valid JSON (line 2)" },
        { "train --config {cfg:unknown-key}", "{t}/unknown-key.json: lora_rank: unknown key; the keys are rawlora train's flags in snake_case" },
        { "train --config {cfg:wrong-type}", "{t}/wrong-type.json: max_length: expected a whole number (at most 2147483647)" },
        { "train --config {cfg:string-data}", "{t}/string-data.json: data: expected a list of strings" },
        { "train --config {cfg:null-model}", "{t}/null-model.json: model: expected a string" },
        { "train --config {cfg:array}", "{t}/array.json: expected a JSON object of training options" },
        { "train --config {cfg:bad-value}", "train: lora_dropout (--lora-dropout) must be in [0, 1)" },
        { "train --config {t}/nowhere.json", "{t}/nowhere.json: training config not found" },
        { "train --config {e}", "{e}: is a folder; expected a JSON file of training options" },
        { "train --config ''", "--config is empty; run 'rawlora train --help' for the options" },

        // eval: output paths refused before the model loads; flags that do nothing alone refused.
        { "eval ppl {m} --data {d} --json {t}", "rawlora: error: --json: {t} is a folder; expected a file name" },
        { "eval ppl {m} --data {d} --json {t}/nowhere/ppl.json", "--json: {t}/nowhere/ppl.json: the folder {t}/nowhere does not exist" },
        { "eval ppl {m} --data {d} --json {f}/ppl.json", "--json: {f}/ppl.json: {f} is a file, not a folder" },
        { "eval ppl {m} --data {d} --json /proc/rawlora-ppl.json", "--json: /proc/rawlora-ppl.json cannot be written" },
        { "eval ppl {m} --data {d} --json ''", "--json is empty" },
        { "eval passkey {m} --lengths 300 --precision fp16", "--precision: 'fp16' is not fp32 or bf16" },
        { "eval passkey {m} --lengths 300 --plot {t}", "--plot: {t} is a folder; expected a file name" },
        { "eval passkey {m} --lengths 300 --plot {t}/nowhere/p.png", "--plot: {t}/nowhere/p.png: the folder {t}/nowhere does not exist" },
        { "eval ppl {f} --data {d}", "{f}: is a file, not a model folder" },
        { "eval ppl {e} --data {d}", "{e}: holds no config.json" },
        { "eval ppl '' --data {d}", "<dir> is empty; run 'rawlora eval ppl --help' for the options" },
        { "eval ppl {c} --data {d}", "{c}/config.json: is not valid JSON" },
        { "eval ppl {v} --data {d}", "{v}/tokenizer.json: has 401 tokens but {v}/config.json has vocab_size 300: ids past the model's embedding cannot be used" },
        { "eval ppl {m} --data {t}/nowhere.jsonl", "{t}/nowhere.jsonl: file not found" },
        { "eval ppl {m} --data ''", "--data is empty" },
        { "eval ppl {m} --data {d} --text-field ''", "--text-field is empty" },
        { "eval ppl {m} --data {d} --window 1", "--window: expected a number of tokens, at least 2, got 1" },
        { "eval ppl {m} --data {d} --stride 0", "--stride: expected a number of tokens, at least 1, got 0" },
        { "eval ppl {m} --data {d} --context 0", "--context: expected a number of tokens, at least 1, got 0" },
        { "eval ppl {m} --data {d} --context -5", "--context: expected a number of tokens, at least 1, got -5" },
        { "eval ppl {m} --data {d} --rope-scaling yarn", "--rope-scaling says how --context is reached, and no --context is given" },
        { "eval ppl {m} --data {d} --context 512 --rope-scaling bogus", "--rope-scaling: 'bogus' is not one of linear, dynamic, yarn" },
        { "eval ppl {m} --data {d} --weight-dtype f64", "--weight-dtype: 'f64' is not one of f32, bf16, f16" },
        { "eval ppl {m} --data {d} --adapter ''", "--adapter is empty" },
        { "eval ppl {m} --data {d} --adapter {t}/nowhere", "{t}/nowhere/adapter_config.json: no such file (a PEFT adapter folder holds" },
        { "eval ppl {m} --data {d} --adapter {a}", "{a}/adapter_config.json: lora: lora_dropout must be in [0, 1), got 1.5" },
        { "eval passkey {m} --lengths 300,abc", "--lengths: 'abc' is not a positive number of tokens" },
        { "eval passkey {m} --lengths ''", "--lengths: nothing given" },
        { "eval passkey {m} --lengths 300 --depths 2", "--depths: '2' is not a fraction in [0, 1], or random" },
        { "eval passkey {m} --lengths 300 --depths NaN", "--depths: 'NaN' is not a fraction in [0, 1], or random" },
        { "eval passkey {m} --lengths 300 --trials 0", "passkey: trials must be at least 1, got 0" },
        { "eval passkey {m} --lengths 2000000000 --allow-beyond-context", "--lengths: a KV cache of 2,000,000,000 tokens takes 953.67 GiB, more than this machine's" },

        // forward
        { "forward {m} --text '' --out {o}", "--text: the text is empty and this tokenizer adds no BOS token" },
        { "forward {m} --ids 1,999 --out {o}", "--ids: token id 999 is past the model's vocabulary (vocab_size 300 in {m}/config.json)" },
        { "forward {m} --ids 1,x --out {o}", "--ids: 'x' is not a token id" },
        { "forward {m} --ids 1,-2 --out {o}", "--ids: '-2' is not a token id" },
        { "forward {m} --ids '' --out {o}", "--ids: no token ids given" },
        { "forward {m} --ids 1 --text hi --out {o}", "give exactly one of --ids and --text" },
        { "forward {m} --out {o}", "give exactly one of --ids and --text" },
        { "forward {m} --ids 1 --out {t}", "--out: {t} is a folder; expected a file name" },
        { "forward {m} --ids 1 --out {t}/nowhere/x.safetensors", "the folder {t}/nowhere does not exist" },
        { "forward {m} --ids 1 --out /proc/rawlora.safetensors", "--out: /proc/rawlora.safetensors cannot be written" },
        { "forward {m} --ids 1 --out ''", "--out is empty" },
        { "forward {m}/model.safetensors --ids 1 --out {o}", "{m}/model.safetensors: is a file, not a model folder" },
        { "forward {v} --text hi --out {o}", "has 401 tokens but {v}/config.json has vocab_size 300" },
        { "forward {s} --ids 1 --out {o}", "{s}/model.safetensors" },
        { "forward {m} --ids 1 --out {o} --weight-dtype f64", "--weight-dtype: 'f64' is not one of f32, bf16, f16" },

        // generate
        { "generate {m} --prompt ''", "--prompt: the text is empty and this tokenizer adds no BOS token" },
        { "generate {m} --prompt hi -n -1", "--max-new-tokens: expected a number of tokens, 0 or more, got -1; run 'rawlora generate --help'" },
        { "generate {m} --prompt hi -n 99999999999", "--max-new-tokens: '99999999999' is not a whole number" },
        { "generate {m} --prompt hi -t -1", "--temperature: expected a number, 0 (greedy) or more, got -1" },
        { "generate {m} --prompt hi -t NaN", "--temperature: expected a number, 0 (greedy) or more, got NaN" },
        { "generate {m} --prompt hi -t Infinity", "--temperature: expected a number, 0 (greedy) or more, got Infinity" },
        { "generate {m} --prompt hi -t 1 --top-k -1", "--top-k: expected a number of tokens, 0 (all) or more, got -1" },
        { "generate {m} --prompt hi -t 1 --top-p 0", "--top-p: expected a probability in (0, 1], got 0" },
        { "generate {m} --prompt hi -t 1 --top-p 2", "--top-p: expected a probability in (0, 1], got 2" },
        { "generate {m} --prompt hi -t 1 --top-p NaN", "--top-p: expected a probability in (0, 1], got NaN" },
        { "generate {m} --prompt hi --top-k 5", "--top-k and --top-p choose among tokens to sample, and --temperature 0 is greedy" },
        { "generate {m} --prompt hi --seed -1", "--seed: '-1' is not a whole number from 0" },
        { "generate {v} --prompt hi", "has 401 tokens but {v}/config.json has vocab_size 300" },
        { "generate {t}/nowhere --prompt hi", "{t}/nowhere: no such folder" },
        { "generate {m} --prompt hi -n 2000000000", "--max-new-tokens: a KV cache of 2,000,000,002 tokens takes 953.67 GiB, more than this machine's" },

        // plan: every number, the model, the LoRA options, the device and its memory.
        { "plan", "rawlora: error: Option '--model' is required; run 'rawlora plan --help' for the options" },
        { "plan --model ''", "--model is empty; run 'rawlora plan --help' for the options" },
        { "plan --model {t}/nowhere", "rawlora: error: {t}/nowhere: no such folder" },
        { "plan --model {e}", "{e}: holds no config.json" },
        { "plan --model {c}", "{c}/config.json: is not valid JSON" },
        { "plan --model {m} --context 1", "--context: expected a number of tokens, at least 2, got 1" },
        { "plan --model {m} --context 99999999999", "--context: '99999999999' is not a whole number" },
        { "plan --model {m} --lora-r 0", "--lora-r: expected a rank, at least 1, got 0" },
        { "plan --model {m} --lora-r 1000", "--lora-r: 1000 is past the model's hidden size (64)" },
        { "plan --model {m} --lora-dropout 1", "--lora-dropout: expected a number in [0, 1), got 1" },
        { "plan --model {m} --lora-dropout NaN", "--lora-dropout: expected a number in [0, 1), got NaN" },
        { "plan --model {m} --target-modules gate", "--target-modules: 'gate' names none of this model's linear layers" },
        { "plan --model {m} --target-modules ''", "--target-modules: '' names none of this model's linear layers" },
        { "plan --model {m} --modules-to-save lm_head", "--modules-to-save: 'lm_head' matches no embedding or norm of this model" },
        { "plan --model {m} --precision f64", "--precision: 'f64' is not one of f32, bf16, f16" },
        { "plan --model {m} --gradient-checkpointing maybe", "Unrecognized command or argument 'maybe'; run 'rawlora plan --help'" },
        { "plan --model {m} --batch 0", "--batch: expected a number of rows, at least 1, got 0" },
        { "plan --model {m} --sp-size 0", "--sp-size: expected a number of ranks, at least 1, got 0" },
        { "plan --model {m} --group-ratio 2", "--group-ratio: expected a fraction in (0, 1], got 2" },
        { "plan --model {m} --device tpu", "--device: 'tpu' is not one of cpu, cuda" },
        { "plan --model {m} --device cuda", "--memory: give the GPU's memory for --device cuda, e.g. --memory 80GiB" },
        { "plan --model {m} --memory lots", "--memory: 'lots' is not a size" },
        { "plan --model {m} --memory 0", "--memory: '0' must be positive" },
        { "plan --model {m} --flops fast", "--flops: 'fast' is not a rate in FLOP/s" },
        { "plan --model {m} --flops 10X", "--flops: '10X' is not a rate in FLOP/s" },

        // merge
        { "merge {m} {t}/nowhere --out {m}", "--out: {m} exists and is not empty; choose a new folder" },
        { "merge {m} {t}/nowhere --out {f}", "--out: {f} is a file; expected a folder" },
        { "merge {m} {t}/nowhere --out ''", "--out is empty" },
        { "merge {m} {t}/nowhere --out {o}", "{t}/nowhere/adapter_config.json: no such file" },
        { "merge {f} {t}/nowhere --out {o}", "{f}: is a file, not a model folder" },
        { "merge {m} {t}/nowhere --out {o} --shard-size lots", "--shard-size: 'lots' is not a size" },
        { "merge {m} {t}/nowhere --out {o} --shard-size 0", "--shard-size: '0' must be positive" },
        { "merge {m} {t}/nowhere --out {o} --dtype f64", "--dtype: 'f64' is not one of f32, bf16, f16" },

        // demo: numbers refused at parse time, flags of the other job refused, paths before the base is unpacked.
        { "demo --out {o} --steps 0", "--steps: expected a number of steps, at least 1, got 0; run 'rawlora demo --help'" },
        { "demo --out {o} --trials -1", "--trials: expected a number of trials, at least 1, got -1" },
        { "demo --out {o} --precision fp16", "--precision: 'fp16' is not fp32 or bf16" },
        { "demo --make-base {o} --precision bf16", "--precision does not apply to --make-base" },
        { "demo --make-base {o} --base-steps 0", "--base-steps: expected a number of steps, at least 1, got 0" },
        { "demo --out {o} --base-steps 5", "--base-steps applies only with --make-base" },
        { "demo --make-base {o} --steps 5", "--steps does not apply to --make-base, which only pretrains the base" },
        { "demo --make-base {m}", "--make-base: {m} exists and is not empty; choose a new folder" },
        { "demo --make-base {f}", "--make-base: {f} is a file; expected a folder" },
        { "demo --out {f}", "--out: {f} is a file; expected a folder" },
        { "demo --out {o} --base {t}/nowhere", "{t}/nowhere: no such folder" },
        { "demo --out {o} --base {f}", "{f}: is a file, not a model folder" },
        { "demo --out ''", "--out is empty" },

        // inspect
        { "inspect {f}", "{f}: is a file, not a model folder" },
        { "inspect {e}", "{e}: holds no config.json" },
        { "inspect ''", "<dir> is empty; run 'rawlora inspect --help' for the options" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void FailsInOneLineBeforeAnyWork(string commandLine, string expected)
    {
        string output = sandbox.FreshOutput();
        var args = Regex.Matches(sandbox.Expand(commandLine, output), @"'([^']*)'|(\S+)")
            .Select(m => m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value).ToArray();

        var (code, stdout, stderr) = CliTests.Run(args);

        Assert.True(code == 1, $"exit code {code}; stderr: {stderr}");
        if (!commandLine.Contains("{run}")) // those rows fail once tokenizing has begun, and may say so
            Assert.Equal("", stdout);
        Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.StartsWith("rawlora: error: ", stderr);
        Assert.Contains(sandbox.Expand(expected, output), stderr);
        Assert.False(File.Exists(output) || Directory.Exists(output), $"{output} was written");
    }

    [Fact]
    public void TextThatLooksLikeAResponseFileIsText()
    {
        string output = sandbox.FreshOutput();
        var (code, _, err) = CliTests.Run("forward", sandbox.Model, "--text", "@user hi", "--out", output);
        Assert.True(code == 0, err);
        using var written = SafeTensorsCheckpoint.Open(output);
        using var ids = written.Load("input_ids");
        Assert.Equal(Tokenizer.Load(sandbox.Model).Encode("@user hi").Select(i => (long)i), ids.ToArray<long>());
    }

    [Fact]
    public void AnEmbeddingLargerThanTheTokenizerIsFine()
    {
        // As Qwen3's 151,936 rows for 151,669 tokens: here 300 rows for the tiny tokenizer's 267.
        var tokenizer = ModelFolder.Tokenizer(sandbox.Model);
        Assert.True(tokenizer.VocabSize < ModelFolder.Config(sandbox.Model).VocabSize);
    }

    /// <summary>The files the cases name, made once.</summary>
    public sealed class Sandbox : IDisposable
    {
        private readonly string _root = Directory.CreateTempSubdirectory("rawlora-hostile-").FullName;
        private readonly Dictionary<string, string> _placeholders;
        private int _outputs;

        public Sandbox()
        {
            Model = TinyModelFolder.Create(Path.Combine(_root, "model"), "qwen2-tiny");
            string larger = TinyModelFolder.Create(Path.Combine(_root, "larger-tokenizer"), "qwen2-tiny");
            var tokenizer = JsonNode.Parse(File.ReadAllText(Path.Combine(larger, "tokenizer.json")))!;
            tokenizer["added_tokens"]!.AsArray().Add(new JsonObject
            {
                ["id"] = 400, ["content"] = "<|extra|>", ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
            });
            File.WriteAllText(Path.Combine(larger, "tokenizer.json"), tokenizer.ToJsonString());
            string badConfig = TinyModelFolder.Create(Path.Combine(_root, "bad-config"), "qwen2-tiny");
            File.WriteAllText(Path.Combine(badConfig, "config.json"), "{ \"vocab_size\": 300,");
            string badWeights = TinyModelFolder.Create(Path.Combine(_root, "bad-weights"), "qwen2-tiny");
            File.WriteAllText(Path.Combine(badWeights, "model.safetensors"), "not a safetensors file");
            string adapter = Directory.CreateDirectory(Path.Combine(_root, "adapter")).FullName;
            File.WriteAllText(Path.Combine(adapter, "adapter_config.json"),
                """{ "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 8, "lora_alpha": 16, "lora_dropout": 1.5, "target_modules": ["q_proj"] }""");
            File.WriteAllLines(Path.Combine(_root, "docs.jsonl"), ["{\"text\": \"hello world\"}"]);
            File.WriteAllText(Path.Combine(_root, "notes.txt"), "a file where a folder belongs");
            Directory.CreateDirectory(Path.Combine(_root, "empty"));
            foreach (var (name, json) in new[]
            {
                ("not-json", "{ \"model\": \"m\",\n  \"lr\": }"),
                ("unknown-key", "{ \"model\": \"m\", \"lora_rank\": 8 }"),
                ("wrong-type", "{ \"max_length\": \"long\" }"),
                ("string-data", "{ \"data\": \"docs.jsonl\" }"),
                ("null-model", "{ \"model\": null }"),
                ("array", "[1, 2]"),
                ("bad-value", $$"""{ "model": "{{Model}}", "data": ["{{Path.Combine(_root, "docs.jsonl")}}"], "output": "{{Path.Combine(_root, "unused")}}", "lora_dropout": 1 }"""),
            })
                File.WriteAllText(Path.Combine(_root, name + ".json"), json);
            _placeholders = new()
            {
                ["{m}"] = Model, ["{v}"] = larger, ["{c}"] = badConfig, ["{s}"] = badWeights, ["{a}"] = adapter,
                ["{d}"] = Path.Combine(_root, "docs.jsonl"), ["{f}"] = Path.Combine(_root, "notes.txt"), ["{e}"] = Path.Combine(_root, "empty"),
                ["{run}"] = Path.Combine(_root, "run"),
            };
        }

        public string Model { get; }

        /// <summary>A path nothing has used yet.</summary>
        public string FreshOutput() => Path.Combine(_root, $"out-{++_outputs}");

        public string Expand(string text, string output)
        {
            text = Regex.Replace(text, @"\{cfg:([a-z-]+)\}", m => Path.Combine(_root, m.Groups[1].Value + ".json")).Replace("{o}", output);
            foreach (var (key, value) in _placeholders)
                text = text.Replace(key, value);
            return text.Replace("{t}", _root);
        }

        public void Dispose() => Directory.Delete(_root, recursive: true);
    }
}
