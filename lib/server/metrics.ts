/**
 * GET /metrics: Prometheus text. HTTP requests by route and status, time to first token, tokens generated
 * and tokens/s, queue depth, active requests, and the device memory each model holds.
 */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from './context.js';
import { PROMETHEUS_CONTENT_TYPE } from './prometheus.js';

export function registerMetrics(app: FastifyInstance, context: ServerContext): void {
  app.get('/metrics', async (_request, reply) => {
    reply.type(PROMETHEUS_CONTENT_TYPE).header('cache-control', 'no-store');
    return context.metrics.render(context.models.list, context.lifecycle);
  });
}
