// The reference TOON codec (@toon-format/toon) on stdin/stdout, to check sochdb's TOON against.
// tests/e2e/toon_reference.py installs the pinned package and runs this script; it can also be
// run by hand against any install:
//
//   node decode.mjs --package-dir DIR [--indent N] < doc.toon         TOON in, JSON out
//   node decode.mjs --package-dir DIR --lines [--indent N]            one JSON string (a TOON
//       document) per input line; per line out {"value": <decoded>} or {"error": "<message>"}
//   add --expand-paths to decode with path expansion on (expandPaths: 'safe', spec §13.4),
//     the inverse of key folding
//   node decode.mjs --package-dir DIR --encode --lines [--indent N] [--delimiter ,|TAB||]
//       one JSON value per line; per line out {"toon": "<reference encoder's text>"}
//
// DIR is an npm prefix holding node_modules/@toon-format/toon. Decoding is strict (the
// default): counts, widths and indentation must match. A single-value error exits 1.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

function parseArgs(argv) {
  const args = { packageDir: null, indent: 2, delimiter: ',', lines: false, encode: false,
    expandPaths: 'off' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--package-dir') args.packageDir = argv[++i];
    else if (arg === '--indent') args.indent = Number(argv[++i]);
    else if (arg === '--delimiter') args.delimiter = argv[++i];
    else if (arg === '--lines') args.lines = true;
    else if (arg === '--encode') args.encode = true;
    else if (arg === '--expand-paths') args.expandPaths = 'safe';
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!args.packageDir) throw new Error('--package-dir is required');
  return args;
}

const args = parseArgs(process.argv.slice(2));
const entry = path.join(args.packageDir, 'node_modules', '@toon-format', 'toon', 'dist',
  'index.mjs');
const { decode, encode } = await import(pathToFileURL(entry).href);
const input = readFileSync(0, 'utf8');
// `indent` for 2.x, `indentSize` for 4.x (which dropped path expansion).
const decodeOptions = { indent: args.indent, indentSize: args.indent, strict: true,
  expandPaths: args.expandPaths };

function answer(line) {
  try {
    if (args.encode) {
      const toon = encode(JSON.parse(line), { indent: args.indent, delimiter: args.delimiter });
      return { toon };
    }
    return { value: decode(JSON.parse(line), decodeOptions) };
  } catch (error) {
    return { error: String(error && error.message || error) };
  }
}

if (args.lines) {
  const out = [];
  for (const line of input.split('\n')) {
    if (line.length > 0) out.push(JSON.stringify(answer(line)));
  }
  process.stdout.write(out.length > 0 ? out.join('\n') + '\n' : '');
} else {
  try {
    process.stdout.write(JSON.stringify(decode(input, decodeOptions)));
  } catch (error) {
    process.stderr.write(`decode.mjs: ${error && error.message || error}\n`);
    process.exit(1);
  }
}
