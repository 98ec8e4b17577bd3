/**
 * createServer(): an OpenAI-compatible HTTP server (fastify) over loaded models. Every request goes
 * through its model's one engine, so concurrent clients are batched together.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { registerChatCompletions } from './chat-completions.js';
import { registerCompletions } from './completions.js';
import type { ServerContext } from './context.js';
import { registerHealth } from './health.js';
import { Lifecycle, type ServerState } from './lifecycle.js';
import { registerMetrics } from './metrics.js';
import { registerModels } from './models.js';
import { HttpError, toHttpError } from './openai-errors.js';
import { installApiGuards } from './auth.js';
import { installRequestLog, recordOf } from './request-log.js';
import { ServedModels, type ModelsInput } from './served-models.js';
import { ServerMetrics } from './server-metrics.js';
import { isLoggerInstance, resolveServerOptions, type ResolvedServerOptions, type ServerOptions } from './server-options.js';

export interface ListenOptions {
  /** Default 8000; 0 picks a free port. */
  port?: number;
  /** Default '127.0.0.1' (loopback only); '0.0.0.0' listens on every interface. */
  host?: string;
}

export interface CloseOptions {
  /**
   * How long in-flight requests may take to finish, in milliseconds; then they are aborted (a stream gets
   * an error event, a plain request a 503). Default 30000. Calling close() again with 0 aborts them now.
   */
  drainTimeoutMs?: number;
}

export interface TorchGenServer {
  /** The fastify instance (for `inject()` in tests, or more routes). */
  readonly app: FastifyInstance;
  /** 'loading', 'ready', 'failed' (loading threw), 'draining' or 'closed'. */
  readonly state: ServerState;
  /** Resolves once every model is loaded and warmed up (GET /health answers 200); rejects if loading failed. */
  readonly ready: Promise<void>;
  /** Starts listening (while the models may still load); resolves with the address, e.g. `http://127.0.0.1:8000`. */
  listen(options?: ListenOptions): Promise<string>;
  /**
   * Stops taking requests (/health and new requests answer 503), waits for the in-flight ones (up to
   * drainTimeoutMs), aborts what is left, then closes the server. The models stay loaded: their owner
   * disposes them.
   */
  close(options?: CloseOptions): Promise<void>;
}

function fastifyOptions(options: ResolvedServerOptions): FastifyServerOptions {
  const logging = isLoggerInstance(options.logger) ? { loggerInstance: options.logger } : { logger: options.logger };
  return {
    ...(logging as FastifyServerOptions),
    bodyLimit: options.maxBodyBytes,
    // request-log.ts writes one line per request instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => `req-${randomBytes(8).toString('hex')}`,
    // close() drains first; what is still open when it closes the server is cut.
    forceCloseConnections: true,
  };
}

/**
 * Creates the server. `models` is one model (served under its directory's name), several by name, or a
 * promise of either, so the server can listen (and answer /health with 503) while they load.
 *
 * @example
 * const model = await loadModel('./models/smollm2-135m-instruct');
 * const server = createServer({ smollm2: model }, { apiKey: 'secret' });
 * console.log(await server.listen({ port: 8000 }));
 * await server.ready;
 */
export function createServer(models: ModelsInput | Promise<ModelsInput>, options: ServerOptions = {}): TorchGenServer {
  const resolved = resolveServerOptions(options);
  const lifecycle = new Lifecycle();
  const served = new ServedModels();
  const metrics = new ServerMetrics();
  const context: ServerContext = { models: served, lifecycle, metrics, options: resolved };
  const app = Fastify(fastifyOptions(resolved)) as unknown as FastifyInstance;

  installRequestLog(app, metrics, resolved.logPrompts);
  installApiGuards(app, lifecycle, resolved.apiKey);
  app.setErrorHandler((error, request, reply) => {
    const http = toHttpError(error, { retryAfterSeconds: resolved.retryAfterSeconds });
    if (http.status >= 500 && !(error instanceof HttpError)) request.log.error({ err: error }, 'request failed');
    recordOf(request).errorCode = http.code;
    return reply.code(http.status).headers(http.headers).send(http.body);
  });
  app.setNotFoundHandler((request, reply) => {
    const http = new HttpError(404, `no route ${request.method} ${request.url.split('?')[0]}`, { code: 'unknown_url' });
    return reply.code(404).send(http.body);
  });
  registerCompletions(app, context);
  registerChatCompletions(app, context);
  registerModels(app, context);
  registerHealth(app, context);
  registerMetrics(app, context);

  const ready = served.load(models, resolved.warmUp).then(
    () => {
      if (lifecycle.state === 'loading') lifecycle.state = 'ready';
      metrics.startSampling(() => served.list);
    },
    (error: unknown) => {
      if (lifecycle.state === 'loading') lifecycle.state = 'failed';
      throw error;
    },
  );
  // Awaiting `ready` is optional; a failed load also shows as /health's 'failed'.
  ready.catch(() => {});

  let closing: Promise<void> | undefined;
  const close = ({ drainTimeoutMs = 30_000 }: CloseOptions = {}): Promise<void> => {
    if (closing) {
      if (drainTimeoutMs === 0) lifecycle.abortAll();
      return closing;
    }
    closing = (async () => {
      lifecycle.state = 'draining';
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, drainTimeoutMs)));
      await Promise.race([lifecycle.whenIdle(), deadline]);
      clearTimeout(timer);
      if (lifecycle.inFlight > 0) {
        app.log.warn({ inFlight: lifecycle.inFlight }, 'drain timeout: aborting the requests still running');
        lifecycle.abortAll();
        // Aborted generations end within an engine step; a stalled client cannot hold the shutdown.
        await Promise.race([lifecycle.whenIdle(), new Promise((resolve) => setTimeout(resolve, 2000))]);
      }
      metrics.stopSampling();
      await app.close();
      lifecycle.state = 'closed';
    })();
    return closing;
  };

  return {
    app,
    get state() {
      return lifecycle.state;
    },
    ready,
    listen: ({ port = 8000, host = '127.0.0.1' }: ListenOptions = {}) => app.listen({ port, host }),
    close,
  };
}
