/**
 * GET /health: 200 once the models are loaded and warmed up; 503 while they load, after a failed load,
 * and while the server drains before shutting down (so a load balancer stops sending requests).
 */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from './context.js';

export function registerHealth(app: FastifyInstance, context: ServerContext): void {
  app.get('/health', async (_request, reply) => {
    const { state, inFlight } = context.lifecycle;
    reply.header('cache-control', 'no-store');
    if (state !== 'ready') reply.code(503);
    return { status: state === 'ready' ? 'ok' : state, models: context.models.list.map((m) => m.name), inFlight };
  });
}
