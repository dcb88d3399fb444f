// Writes expected_ids.json: token ids, decoded text and chat-template strings from a second
// implementation, @lenml/tokenizers (a JavaScript port of transformers.js' tokenizers), for the
// real tokenizer files that fetch.mjs caches; chat-template strings come from render_chats.py. The C# tests (tests/Model/Tokenizer*Tests.cs)
// must reproduce them. Run: node tests/reference/tokenizers/make_ids.mjs (needs npm once).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { models, modelDir } from "./fetch.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const lib = "@lenml/tokenizers@3.7.2";

// A varied text set: each entry exercises one part of the pipeline.
const texts = [
  "Hello, world! This is a plain English sentence.",
  "  leading and trailing spaces  ",
  "tabs\tand\nnewlines\r\n\n\n  runs     of      spaces\t\t end",
  "   ",
  "\n\n",
  " \t \n",
  "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
  "public static int Add(int a, int b)\n{\n    return a + b; // sum\n}\n",
  "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }",
  "1234567 and 3.14159, 2024-01-31, 000123, 9876543210",
  "The fox's den; they'll say DON'T, we've, I'M, you'RE",
  "你好，世界！今天天气很好。日本語のテキストも。한국어 문장입니다.",
  "emoji 😀👍🏽 family 👨‍👩‍👧‍👦 flag 🇯🇵 heart ❤️ llama 🦙",
  // Decomposed (NFD) accents: Qwen normalises to NFC, the Llamas keep the combining marks.
  "Cafe\u0301 de\u0301ja\u0300 vu, A\u030Angstro\u0308m, Zo\u00EB",
  "Привет мир, مرحبا بالعالم, नमस्ते दुनिया",
  // Llama 3 needs ignore_merges for these: its merges cannot build " việc" or " nhiều".
  "Tiếng Việt: việc này hợp lý, nhiều điều",
  "\u00A0no-break\u00A0space, zero\u200Bwidth, ideographic\u3000space",
  "rare CJK 𠀀𪚥 and a private-use \uE000 char",
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa !!!!!!!!!! ........",
  "See https://example.com/path?q=1&x=2 and **bold** `code` ~!@#$%^&*()_+",
  "<s>Hello</s> and <unk> as text",
  "<|begin_of_text|>Hi<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nyo",
  "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nok<|endoftext|>",
  "spaces around <s> and <|im_end|> tokens </s>",
  "",
];

// Conversations for the chat templates; the last message decides what a template must add.
const chats = [
  { messages: [{ role: "user", content: "What is 2+2?" }], add_generation_prompt: true },
  {
    messages: [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Hi there" },
      { role: "assistant", content: "Hello! How can I help?" },
      { role: "user", content: "Tell me a joke." },
    ],
    add_generation_prompt: true,
  },
  {
    messages: [
      { role: "system", content: "You are terse." },
      { role: "user", content: "  padded question  " },
      { role: "assistant", content: " Because it could. " },
    ],
    add_generation_prompt: false,
  },
  {
    messages: [
      { role: "user", content: "Think first." },
      { role: "assistant", content: "<think>\nsome reasoning\n</think>\n\nThe answer." },
      { role: "user", content: "And again?" },
      { role: "assistant", content: "<think>\nmore\n</think>\n\nSame answer." },
    ],
    add_generation_prompt: false,
  },
];

// Llama 2's tokenizer_config.json in this package has no chat_template; this is the one
// meta-llama/Llama-2-7b-chat-hf ships.
const llama2Template =
  "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}" +
  "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}" +
  "{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}" +
  "{% else %}{% set content = message['content'] %}{% endif %}" +
  "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}" +
  "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

// The packaged Llama 3 template predates Meta's fix that made the assistant header depend on
// add_generation_prompt; apply that fix so both cases can be compared.
function llama3Template(packaged) {
  const prompt = "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}";
  if (!packaged.endsWith(prompt)) throw new Error("unexpected Llama 3 chat template");
  return packaged.slice(0, -prompt.length) + `{% if add_generation_prompt %}${prompt}{% endif %}`;
}

// @lenml/tokenizers' Jinja port cannot parse Qwen3's template (no str.split), so the chat
// strings come from Python's jinja2 set up as transformers sets it up (render_chats.py).
function renderChats(template, tokenizerConfig) {
  const tokens = {};
  for (const key of ["bos_token", "eos_token", "unk_token", "pad_token"]) {
    const value = tokenizerConfig[key];
    tokens[key] = typeof value === "object" && value !== null ? value.content : value ?? null;
  }
  const jobs = chats.map((c) => ({ template, tokens, messages: c.messages, add_generation_prompt: c.add_generation_prompt }));
  const rendered = execFileSync("python3", [join(here, "render_chats.py")],
    { input: JSON.stringify(jobs), encoding: "utf8" });
  return JSON.parse(rendered);
}

const work = mkdtempSync(join(tmpdir(), "rawlora-lenml-"));
try {
  execFileSync("npm", ["install", "--no-save", "--silent", "--prefix", work, lib],
    { stdio: "inherit", shell: process.platform === "win32" });
  const { TokenizerLoader } = await import(
    pathToFileURL(join(work, "node_modules", "@lenml", "tokenizers", "dist", "main.mjs")).href);

  const out = { generator: `tests/reference/tokenizers/make_ids.mjs with ${lib}`, texts, chats, models: {} };
  for (const model of models) {
    const dir = modelDir(model);
    const tokenizerConfig = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
    const tokenizer = TokenizerLoader.fromPreTrained({
      tokenizerJSON: JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")),
      tokenizerConfig,
    });
    const template = model === "llama2" ? llama2Template
      : model === "llama3" ? llama3Template(tokenizerConfig.chat_template) : tokenizerConfig.chat_template;
    // Decoding never cleans up spaces here: Tokenizer.Decode is lossless (see its comment).
    const decode = (ids) => ids.length === 0 ? "" : tokenizer.decode(ids, { clean_up_tokenization_spaces: false });
    out.models[model] = {
      folder: basename(dir), // where the tests find the files in the cache (fetch.mjs's layout)
      ids: texts.map((t) => tokenizer.encode(t, { add_special_tokens: false })),
      ids_with_bos: texts.map((t) => tokenizer.encode(t, { add_special_tokens: true })),
      decoded: texts.map((t) => decode(tokenizer.encode(t, { add_special_tokens: false }))),
      chats: renderChats(template, tokenizerConfig),
    };
  }
  // One line per id list keeps the file readable in a diff.
  const json = JSON.stringify(out, null, 1).replace(/\[[\d,\s]*\]/g, (ids) => ids.replace(/\s+/g, ""));
  writeFileSync(join(here, "expected_ids.json"), json + "\n");
  console.log(`wrote ${join(here, "expected_ids.json")}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
