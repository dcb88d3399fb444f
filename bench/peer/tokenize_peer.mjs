// The peer of `bench tokenize`: Hugging Face's tokenizers (its Rust library's official Node binding)
// on the same tokenizer.json files and texts as ours, one thread. It installs the binding with npm
// once, into the cache outside git where fetch.mjs (copied beside this file from
// tests/reference/tokenizers) keeps the real tokenizer files, and fetches those if missing.
// Protocol (bench/Peer.cs): one JSON line about itself, then one JSON answer per request line
// {"model", "text_files", "ids_file"?, "runs"}: encodes the first file's text untimed (its ids written
// to ids_file as little-endian int32), then the next `runs` files' texts one each, and answers the
// median seconds — every timed text new to the word cache, as in a pass over a corpus.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { cacheRoot, fetchAll, modelDir, models } from "./fetch.mjs";

const version = "0.23.2";

function loadBinding() {
  const dir = join(cacheRoot(), `hf-tokenizers-${version}`);
  if (!existsSync(join(dir, "node_modules", "tokenizers", "package.json"))) {
    mkdirSync(dir, { recursive: true });
    // npm is npm.cmd on Windows, which only a shell can start.
    execFileSync("npm", ["install", "--prefix", dir, "--no-audit", "--no-fund", "--silent", `tokenizers@${version}`],
      { stdio: ["ignore", "ignore", "inherit"], shell: process.platform === "win32" });
  }
  return createRequire(join(dir, "package.json"))("tokenizers");
}

async function median(encode, runs) {
  const times = [];
  for (let i = 1; i <= runs; i++) {
    const t0 = performance.now();
    await encode(i);
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  const h = times.length >> 1;
  return times.length % 2 ? times[h] : (times[h - 1] + times[h]) / 2;
}

let Tokenizer;
try {
  if (process.env.RAYON_NUM_THREADS !== "1" || process.env.TOKENIZERS_PARALLELISM !== "false")
    throw new Error("start me with RAYON_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false: one thread, as ours");
  fetchAll();
  ({ Tokenizer } = loadBinding());
} catch (e) {
  console.log(JSON.stringify({ error: String(e.message ?? e).split("\n")[0] }));
  process.exit(1);
}
console.log(JSON.stringify({ tokenizers: version, threads: 1, models: Object.fromEntries(models.map(m => [m, modelDir(m)])) }));

const loaded = new Map();
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const request = JSON.parse(line);
  if (!loaded.has(request.model))
    loaded.set(request.model, Tokenizer.fromFile(join(modelDir(request.model), "tokenizer.json")));
  const tokenizer = loaded.get(request.model);
  const texts = request.text_files.map(f => readFileSync(f, "utf8"));
  const encode = async i => (await tokenizer.encode(texts[i], null, { addSpecialTokens: false })).getIds();
  const ids = await encode(0);
  if (request.ids_file) writeFileSync(request.ids_file, new Int32Array(ids));
  console.log(JSON.stringify({ seconds: request.runs > 0 ? await median(encode, request.runs) : null }));
}
