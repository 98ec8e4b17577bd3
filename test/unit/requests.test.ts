import { describe, expect, test } from 'vitest';
import { Model } from '../../lib/model.js';
import { Requests } from '../../lib/requests.js';

describe("a model's requests", () => {
  test('events reach their own request, in order; a request leaves with its final event', async () => {
    const requests = new Requests();
    const first = requests.open(1);
    const second = requests.open(2);
    requests.deliver([
      { requestId: 1, tokenIds: [5] },
      { requestId: 2, tokenIds: [7], finishReason: 'stop' },
      { requestId: 1, tokenIds: [6] },
      { requestId: 3, tokenIds: [9] }, // a request this model does not know: ignored
    ]);
    expect((await first.take()).map((e) => e.tokenIds)).toEqual([[5], [6]]);
    expect(second.finished).toBe(true);
    requests.deliver([{ requestId: 2, tokenIds: [8] }]); // after its final event: dropped
    expect((await second.take()).map((e) => e.tokenIds)).toEqual([[7]]);
    requests.abortAll();
    expect(await first.take()).toEqual([{ requestId: 1, tokenIds: [], finishReason: 'abort' }]);
    expect(first.finished).toBe(true);
  });

  test('a Model comes from loadModel(), not from its constructor', () => {
    const construct = Model as unknown as new (...args: unknown[]) => Model;
    expect(() => new construct()).toThrow(new TypeError('a Model comes from loadModel(), not from its constructor'));
  });
});
