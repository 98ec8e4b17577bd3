/** GET /v1/models and GET /v1/models/:model: the models this server answers for. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from './context.js';
import type { ServedModel } from './served-models.js';

function modelBody({ name, created }: ServedModel) {
  return { id: name, object: 'model', created, owned_by: 'torch-gen' };
}

export function registerModels(app: FastifyInstance, context: ServerContext): void {
  app.get('/v1/models', async () => ({ object: 'list', data: context.models.list.map(modelBody) }));
  app.get<{ Params: { model: string } }>('/v1/models/:model', async (request) => modelBody(context.models.resolve(request.params.model)));
}
