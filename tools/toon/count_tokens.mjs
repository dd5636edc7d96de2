// Counts BPE tokens with gpt-tokenizer (cl100k_base and o200k_base) for toon_tokens.py.
//
//   node count_tokens.mjs --package-dir DIR < texts.jsonl
//
// DIR is an npm prefix holding node_modules/gpt-tokenizer. Each input line is a JSON string;
// each output line is {"cl100k_base": n, "o200k_base": n} for it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const dirFlag = process.argv.indexOf('--package-dir');
if (dirFlag < 0 || dirFlag + 1 >= process.argv.length) {
  process.stderr.write('count_tokens.mjs: --package-dir is required\n');
  process.exit(2);
}
const require = createRequire(path.join(process.argv[dirFlag + 1], 'package.json'));
const encodings = {
  cl100k_base: require('gpt-tokenizer/cjs/encoding/cl100k_base'),
  o200k_base: require('gpt-tokenizer/cjs/encoding/o200k_base'),
};
const out = [];
for (const line of readFileSync(0, 'utf8').split('\n')) {
  if (line.length === 0) continue;
  const text = JSON.parse(line);
  const counts = {};
  for (const [name, encoding] of Object.entries(encodings)) {
    counts[name] = encoding.countTokens(text);
  }
  out.push(JSON.stringify(counts));
}
process.stdout.write(out.length > 0 ? out.join('\n') + '\n' : '');
