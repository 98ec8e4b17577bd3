import { describe, expect, test } from 'vitest';
import { StopStringMatcher } from '../../lib/stop-strings.js';

function run(stops: string[], pieces: string[]) {
  const matcher = new StopStringMatcher(stops);
  const emitted: string[] = [];
  for (const piece of pieces) {
    const { text, stopped } = matcher.push(piece);
    emitted.push(text);
    if (stopped) return { emitted, stopped: true };
  }
  emitted.push(matcher.flush());
  return { emitted, stopped: false };
}

describe('stop strings', () => {
  test('a stop string inside one piece cuts the text before it', () => {
    expect(run(['\n\n'], ['Hello\n\nWorld'])).toEqual({ emitted: ['Hello'], stopped: true });
  });

  test('a stop string spanning several pieces is never emitted, even in part', () => {
    const { emitted, stopped } = run(['User:'], ['Sure. ', 'Us', 'e', 'r: hi']);
    expect(stopped).toBe(true);
    expect(emitted.join('')).toBe('Sure. ');
    expect(emitted).toEqual(['Sure. ', '', '', '']);
  });

  test('held-back text is released as soon as it can no longer begin a stop string', () => {
    const { emitted, stopped } = run(['User:'], ['Sure. Us', 'ing it']);
    expect(stopped).toBe(false);
    expect(emitted).toEqual(['Sure. ', 'Using it', '']);
  });

  test('the earliest of several stop strings wins', () => {
    expect(run(['END', 'b'], ['a b END'])).toEqual({ emitted: ['a '], stopped: true });
  });

  test('text held back at the end is flushed when no stop string came', () => {
    expect(run(['\n\n'], ['line\n'])).toEqual({ emitted: ['line', '\n'], stopped: false });
  });

  test('without stop strings nothing is held back', () => {
    expect(run([], ['a', 'b'])).toEqual({ emitted: ['a', 'b', ''], stopped: false });
  });
});
