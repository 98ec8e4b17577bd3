/**
 * @org/torch-gen/server: an OpenAI-compatible HTTP server over loaded models.
 *
 * @example
 * import { loadModel } from '@org/torch-gen';
 * import { createServer } from '@org/torch-gen/server';
 * const server = createServer(await loadModel('./models/smollm2-135m-instruct'));
 * await server.listen({ port: 8000 });
 */
export { createServer } from './server.js';
export type { CloseOptions, ListenOptions, TorchGenServer } from './server.js';
export type { ServerOptions } from './server-options.js';
export type { ModelsInput } from './served-models.js';
export type { ServerState } from './lifecycle.js';
export type { OpenAIErrorBody } from './openai-errors.js';
