/** What every route of one server shares. */
import type { Lifecycle } from './lifecycle.js';
import type { ServedModels } from './served-models.js';
import type { ServerMetrics } from './server-metrics.js';
import type { ResolvedServerOptions } from './server-options.js';

export interface ServerContext {
  models: ServedModels;
  lifecycle: Lifecycle;
  metrics: ServerMetrics;
  options: ResolvedServerOptions;
}
