// The npm side of token_bench.sh: counts the tokens of each FILE with the npm tokenizers in
// NODE_MODULES_DIR (tiktoken: OpenAI's Rust code as WebAssembly; js-tiktoken and gpt-tokenizer:
// pure JavaScript), in both encodings, and prints MB/s (best of ROUNDS, by the process's CPU
// time; the text as a JS string, so UTF-8 decoding is not timed). head -c may cut the last
// character of a file: Node decodes it as U+FFFD. Usage: node token_bench.js NODE_MODULES_DIR ROUNDS FILE...
"use strict";
const fs = require("fs");
const path = require("path");

const [modules, roundsArg, ...files] = process.argv.slice(2);
const rounds = Number.parseInt(roundsArg, 10);
const load = (name) => require(path.join(modules, name));

const tiktoken = load("tiktoken");
const jsTiktoken = load("js-tiktoken");
const counters = [];
for (const encoding of ["cl100k_base", "o200k_base"]) {
  const wasm = tiktoken.get_encoding(encoding);
  counters.push([encoding, "tiktoken (wasm)", (t) => wasm.encode_ordinary(t).length]);
  const js = jsTiktoken.getEncoding(encoding);
  counters.push([encoding, "js-tiktoken", (t) => js.encode(t, [], []).length]);
  const gpt = load(`gpt-tokenizer/cjs/encoding/${encoding}.js`);
  counters.push([encoding, "gpt-tokenizer", (t) => gpt.encode(t, { allowedSpecial: new Set(),
                                                                   disallowedSpecial: new Set() }).length]);
}
for (const file of files) {
  const text = fs.readFileSync(file, "utf8");
  const mb = Buffer.byteLength(text, "utf8") / 1e6;
  for (const [encoding, name, count] of counters) {
    let best = Infinity;
    let tokens = 0;
    for (let i = 0; i < rounds; ++i) {
      const start = process.cpuUsage();
      tokens = count(text);
      const used = process.cpuUsage(start);
      best = Math.min(best, (used.user + used.system) / 1e6);
    }
    console.log(`${path.basename(file, ".txt").padEnd(8)} ${encoding.padEnd(12)} ` +
                `${name.padEnd(16)} ${mb.toFixed(2)} MB ${String(tokens).padStart(9)} tokens ` +
                `${(mb / best).toFixed(1).padStart(7)} MB/s (${best.toFixed(3)} s)`);
  }
}
