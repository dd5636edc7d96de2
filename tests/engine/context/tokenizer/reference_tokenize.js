// The reference side of reference_test.cc: encodes every text of IN.json (a JSON array of
// strings) with the npm package `tiktoken` (OpenAI's tokenizer, Rust compiled to WebAssembly)
// in both encodings, with encode_ordinary (special-token strings are plain text), and writes
// {"cl100k_base": [[ids...], ...], "o200k_base": [...]} to OUT.json.
// Usage: node reference_tokenize.js NODE_MODULES_DIR IN.json OUT.json
"use strict";
const fs = require("fs");
const path = require("path");

const [modules, input, output] = process.argv.slice(2);
const { get_encoding } = require(path.join(modules, "tiktoken"));
const texts = JSON.parse(fs.readFileSync(input, "utf8"));
const result = {};
for (const name of ["cl100k_base", "o200k_base"]) {
  const encoding = get_encoding(name);
  result[name] = texts.map((text) => Array.from(encoding.encode_ordinary(text)));
  encoding.free();
}
fs.writeFileSync(output, JSON.stringify(result));
