// Seeded random inputs for the fuzz tests (test/unit/fuzz.test.ts, test/native/fuzz-generate.test.ts). The same
// seed gives the same inputs, so a failure is reproduced by its seed and its input's index.

export type Random = ReturnType<typeof seeded>;

export function seeded(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const int = (below: number) => Math.floor(next() * below);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  /** Any JavaScript value an option might be given: wrong types, NaN, infinities, huge, nested. */
  const value = (depth = 0): unknown =>
    pick<() => unknown>([
      () => undefined,
      () => null,
      () => Number.NaN,
      () => Infinity,
      () => -Infinity,
      () => 0,
      () => -1,
      () => next(),
      () => Math.floor(next() * 100),
      () => next() * 1e9 - 5e8,
      () => 2 ** 53,
      () => '',
      () => 'cpu',
      () => 'cuda:1',
      () => String(Math.floor(next() * 10)),
      () => true,
      () => [],
      () => (depth < 2 ? Array.from({ length: Math.floor(next() * 4) }, () => value(depth + 1)) : []),
      () => (depth < 2 ? { nested: value(depth + 1) } : {}),
      () => new AbortController().signal,
    ])();
  return { next, int, pick, value };
}

// Pieces text is made of: scripts, emoji sequences, combining marks, controls, a NUL, lone surrogates (not
// valid UTF-16), a byte-order mark, right-to-left marks, and the fixture tokenizer's special token.
const TEXT_PIECES = [
  'Once upon a time', ' the', ' quick brown fox', '夜色如墨', '你好', 'Ünïcödé', 'e\u0301', '😀', '👩‍💻', '🇫🇷', '❤️',
  '\u0000', '\u0007', '\n', '\r\n', '\t', '\ud800', '\udfff', '\ufeff', '\u200f', '\u202e', 'ﷺ', '𝕏', '<|endoftext|>',
  '<|endoftext', '|>', '<s>', '</s>', '\\u0000', '%s%n', '{{ x }}', ' '.repeat(50),
];

/** Random text: mostly a few pieces, sometimes random code points, sometimes 100k characters or more. */
export function randomText(random: Random): string {
  const shape = random.next();
  if (shape < 0.05) return '';
  if (shape < 0.1) return random.pick(TEXT_PIECES).repeat(1 + random.int(20_000));  // past any context
  if (shape < 0.3) return String.fromCharCode(...Array.from({ length: 1 + random.int(40) }, () => random.int(0x10000)));
  return Array.from({ length: 1 + random.int(8) }, () => random.pick(TEXT_PIECES)).join('');
}

/** A random prompt: text, token ids (in range, out of range, not integers), or not a prompt at all. */
export function randomPrompt(random: Random, vocab: number): unknown {
  const shape = random.next();
  if (shape < 0.55) return randomText(random);
  if (shape < 0.8) return Array.from({ length: random.int(30) }, () => random.int(vocab));
  if (shape < 0.9) {
    const bad = [-1, vocab, vocab + 1e6, 1.5, Number.NaN, Infinity, '3', null];
    return Array.from({ length: 1 + random.int(6) }, () => (random.next() < 0.3 ? random.pick(bad) : random.int(vocab)));
  }
  if (shape < 0.95) return new Array(200 + random.int(2000)).fill(1 + random.int(vocab - 1));  // longer than the context
  return random.value();
}

/**
 * Random generate() options: mostly values in range (so that the sampler runs with them), some out of range
 * or of the wrong type, some unknown keys. maxTokens stays small unless it is the huge-but-valid 2^20.
 */
export function randomOptions(random: Random, vocab: number): Record<string, unknown> {
  const plausible: Record<string, () => unknown> = {
    maxTokens: () => random.pick([1, 2, 3, 5, 8, 2 ** 20]),
    temperature: () => random.pick([0, 0.01, 0.7, 1, 2, 100]),
    topK: () => random.pick([0, 1, 2, 50, vocab, 2 ** 31 - 1]),
    topP: () => random.pick([1e-9, 0.1, 0.9, 1]),
    minP: () => random.pick([0, 0.05, 0.5, 1]),
    repetitionPenalty: () => random.pick([1e-3, 0.5, 1, 1.3, 100]),
    presencePenalty: () => random.pick([-2, 0, 0.5, 2]),
    frequencyPenalty: () => random.pick([-2, 0, 0.5, 2]),
    seed: () => random.pick([0, 1, 42, Number.MAX_SAFE_INTEGER]),
    stop: () => random.pick(['\n', ['a', 'the'], Array.from({ length: 1 + random.int(3) }, () => randomText(random) || 'x')]),
    stopTokenIds: () => Array.from({ length: random.int(4) }, () => random.int(vocab)),
    logprobs: () => random.pick([0, 1, 5, 20]),
    truncate: () => random.next() < 0.5,
  };
  const options: Record<string, unknown> = {};
  for (let k = random.int(6); k > 0; k--) {
    const roll = random.next();
    if (roll < 0.03) {
      options[random.pick(['bogus', 'max_tokens', 'top_p', '__proto__x'])] = random.value();
      continue;
    }
    const key = random.pick(Object.keys(plausible));
    options[key] = roll < 0.85 ? plausible[key]!() : random.value();
  }
  return options;
}
