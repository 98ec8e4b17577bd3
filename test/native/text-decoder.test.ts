import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { IncrementalTextDecoder } from '../../lib/text-decoder.js';
import { Tokenizer } from '../../lib/tokenizer.js';
import { fixture, readExpected } from '../helpers.js';

let tokenizer: Tokenizer;
beforeAll(async () => {
  tokenizer = await Tokenizer.fromDirectory(join(fixture('gpt2-logits')));
});

function streamDecode(ids: number[], context: number[] = []): string[] {
  const decoder = new IncrementalTextDecoder(tokenizer, context);
  const deltas = ids.map((id) => decoder.push([id]));
  deltas.push(decoder.flush());
  return deltas;
}

describe('incremental text decoding (byte-level BPE)', () => {
  test.each([
    ['Chinese', '夜色如墨,风穿过废弃的教堂。你好,世界!'],
    ['emoji', 'Emoji: 😀 🚀 🐍 🎉 👩‍💻 ❤️'],
    ['combining marks', 'e\u0301 a\u0300 o\u0302 n\u0303 Café'],
    ['mixed', 'Hello 夜色 😀 naïve'],
  ])('%s: the deltas concatenate to the full decode and never hold a broken character', (_name, text) => {
    const ids = tokenizer.encode(text);
    const deltas = streamDecode(ids);
    expect(deltas.join('')).toBe(text);
    for (const delta of deltas) expect(delta).not.toContain('\uFFFD');
    // A multi-byte character really did span several tokens here, so the hold-back was exercised.
    expect(deltas.filter((delta) => delta === '').length).toBeGreaterThan(0);
  });

  test('random token sequences decode to exactly the full decode, U+FFFD only where it has them', () => {
    for (const prompt of readExpected('gpt2-logits').prompts) {
      const deltas = streamDecode(prompt.generated_ids, prompt.prompt_ids);
      const full = tokenizer.decode(prompt.generated_ids);
      expect(deltas.join('')).toBe(full);
      const replacements = (s: string) => [...s].filter((c) => c === '\uFFFD').length;
      expect(replacements(deltas.join(''))).toBe(replacements(full));
    }
  });

  test('flush emits an unfinished character at the end, as the full decode does', () => {
    const ids = tokenizer.encode('😀');
    const partial = ids.slice(0, -1);
    const decoder = new IncrementalTextDecoder(tokenizer, []);
    expect(decoder.push(partial)).toBe('');
    expect(decoder.flush()).toBe(tokenizer.decode(partial));
  });

  test('the prompt is context only: its text is never emitted', () => {
    const prompt = tokenizer.encode('Once upon a time');
    const continuation = tokenizer.encode(' there lived a robot');
    expect(streamDecode(continuation, prompt).join('')).toBe(tokenizer.decode(continuation));
  });
});

describe('incremental text decoding (SentencePiece-style: Metaspace and byte fallback)', () => {
  interface Case {
    text: string;
    ids: number[];
    decoded: string;
  }
  const cases = (JSON.parse(readFileSync(join(fixture('sentencepiece-style'), 'expected.json'), 'utf8')) as { cases: Case[] }).cases;
  let spTokenizer: Tokenizer;
  beforeAll(async () => {
    spTokenizer = await Tokenizer.fromDirectory(fixture('sentencepiece-style'));
  });

  test.each(cases.map((c) => [c.text, c] as const))('%s', (_text, testCase) => {
    expect(spTokenizer.encode(testCase.text)).toEqual(testCase.ids);
    expect(spTokenizer.decode(testCase.ids)).toBe(testCase.decoded);
    // Streamed from the first token (no context) and after a prompt: both add up to the full decode.
    for (const context of [[], spTokenizer.encode('Once upon a time')]) {
      const decoder = new IncrementalTextDecoder(spTokenizer, context);
      const deltas = testCase.ids.map((id) => decoder.push([id]));
      deltas.push(decoder.flush());
      const expectedText = context.length === 0 ? testCase.decoded : spTokenizer.decode([...context, ...testCase.ids]).slice(spTokenizer.decode(context).length);
      expect(deltas.join('')).toBe(expectedText);
      for (const delta of deltas) expect(delta).not.toContain('\uFFFD');
    }
  });
});
