// Converts one encoder of the npm package `tiktoken` (encoders/<name>.json: {"bpe_ranks": lines
// of `! <first rank> <base64 token> <base64 token> ...`}) into tiktoken's rank file format, one
// token a line: base64(token bytes) SPACE rank. Usage: node ranks_to_tiktoken.js IN.json OUT
"use strict";
const fs = require("fs");

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node ranks_to_tiktoken.js ENCODER.json OUT.tiktoken");
  process.exit(2);
}
const encoder = JSON.parse(fs.readFileSync(input, "utf8"));
const lines = [];
for (const row of encoder.bpe_ranks.split("\n")) {
  if (!row) continue;
  const [, first, ...tokens] = row.split(" ");
  let rank = Number.parseInt(first, 10);
  for (const token of tokens) lines.push(`${token} ${rank++}\n`);
}
fs.writeFileSync(output, lines.join(""));
