/**
 * One structured log line and the HTTP metrics per request, written when its connection's response
 * closes (finished or cut off by the client). The prompt and the generated text are left out unless the
 * server was started with logPrompts.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerMetrics } from './server-metrics.js';

/** What a route learns about a request's generation, for its log line. */
export interface RequestRecord {
  model?: string;
  stream?: boolean;
  promptTokens?: number;
  completionTokens?: number;
  timeToFirstTokenMs?: number;
  finishReason?: string;
  /** Logged only with logPrompts. */
  prompt?: unknown;
  /** Logged only with logPrompts. */
  output?: string;
  errorCode?: string | null;
  /** Settles when the request's generation has ended (its log line waits for the finish reason). */
  ended?: Promise<void>;
}

const records = new WeakMap<FastifyRequest, RequestRecord>();

export function recordOf(request: FastifyRequest): RequestRecord {
  let record = records.get(request);
  if (!record) records.set(request, (record = {}));
  return record;
}

/** Status logged for a response the client did not wait for (nginx's convention). */
export const CLIENT_CLOSED = 499;

const round = (ms: number) => Math.round(ms * 10) / 10;

const QUIET_ROUTES = new Set(['/health', '/metrics']);

export function installRequestLog(app: FastifyInstance, metrics: ServerMetrics, logPrompts: boolean): void {
  app.addHook('onRequest', (request, reply, done) => {
    const start = performance.now();
    reply.header('x-request-id', request.id);
    reply.raw.once('close', () => {
      const durationMs = performance.now() - start;
      const route = request.routeOptions.url ?? 'unmatched';
      const status = reply.raw.writableFinished ? reply.statusCode : CLIENT_CLOSED;
      metrics.requestFinished(route, request.method, status, durationMs / 1000);
      const write = () => {
        const { prompt, output, ended: _ended, ...record } = recordOf(request);
        const line: Record<string, unknown> = { route, method: request.method, status, durationMs: round(durationMs), ...record };
        if (record.timeToFirstTokenMs !== undefined) line.timeToFirstTokenMs = round(record.timeToFirstTokenMs);
        if (logPrompts && prompt !== undefined) line.prompt = prompt;
        if (logPrompts && output !== undefined) line.output = output;
        const message = status === CLIENT_CLOSED ? 'request cancelled by the client' : 'request completed';
        if (QUIET_ROUTES.has(route)) request.log.debug(line, message);
        else request.log.info(line, message);
      };
      // A client that left closes the response before its generation has wound down (within an engine step).
      const { ended } = recordOf(request);
      if (ended === undefined) write();
      else void Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 5000).unref())]).then(write);
    });
    done();
  });
}
