/**
 * Guards the /v1 routes: a bearer token when the server has an API key, and 503 while the models load or
 * the server drains (/health says which).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Lifecycle } from './lifecycle.js';
import { HttpError } from './openai-errors.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares in constant time (digests first, so the lengths do not leak either). */
function sameKey(given: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(given), expected);
}

function unavailable(lifecycle: Lifecycle): HttpError | undefined {
  switch (lifecycle.state) {
    case 'ready':
      return undefined;
    case 'loading':
      return new HttpError(503, 'the model is still loading; retry when GET /health answers 200', {
        code: 'model_loading',
        headers: { 'retry-after': '5' },
      });
    case 'failed':
      return new HttpError(503, 'the model failed to load; see the server log', { code: 'model_load_failed' });
    default:
      return new HttpError(503, 'the server is shutting down; retry on another instance', {
        code: 'server_shutting_down',
        headers: { connection: 'close' },
      });
  }
}

export function installApiGuards(app: FastifyInstance, lifecycle: Lifecycle, apiKey: string | undefined): void {
  const expected = apiKey === undefined ? undefined : digest(apiKey);
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/v1/') && request.url !== '/v1') return;
    if (expected) {
      const header = request.headers.authorization;
      const match = typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
      if (!match) {
        throw new HttpError(401, 'missing API key: send it as `Authorization: Bearer KEY`', { code: 'invalid_api_key' });
      }
      if (!sameKey(match[1] as string, expected)) {
        throw new HttpError(401, 'incorrect API key provided', { code: 'invalid_api_key' });
      }
    }
    const refusal = unavailable(lifecycle);
    if (refusal) throw refusal;
  });
}
