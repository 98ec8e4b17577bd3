/** What the server measures, and its rendering for GET /metrics. */
import type { Lifecycle } from './lifecycle.js';
import { Counter, Gauge, Histogram, renderMetrics } from './prometheus.js';
import type { ServedModel } from './served-models.js';
import { TokenRate } from './token-rate.js';

const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class ServerMetrics {
  readonly #requests = new Counter('torch_gen_http_requests_total', 'HTTP requests answered, by route, method and status (499: the client closed the connection first).');
  readonly #duration = new Histogram('torch_gen_http_request_duration_seconds', 'HTTP request duration, from arrival to the last byte.', LATENCY_BUCKETS);
  readonly #ttft = new Histogram('torch_gen_time_to_first_token_seconds', 'Time from a request\'s arrival to its first generated token (queueing and prefill included).', LATENCY_BUCKETS);
  readonly #promptTokens = new Counter('torch_gen_request_prompt_tokens_total', 'Prompt tokens of the HTTP requests served.');
  readonly #completionTokens = new Counter('torch_gen_request_completion_tokens_total', 'Tokens generated for HTTP requests.');
  readonly #engineTokens = new Counter('torch_gen_tokens_generated_total', 'Tokens the model\'s engine generated since load (warm-up included).');
  readonly #tokensPerSecond = new Gauge('torch_gen_tokens_per_second', 'Tokens generated per second over the last 10 seconds, all requests together.');
  readonly #queue = new Gauge('torch_gen_queue_depth', 'Requests waiting for a KV-cache slot.');
  readonly #active = new Gauge('torch_gen_active_requests', 'Requests holding a KV-cache slot (prefilling or generating).');
  readonly #maxBatch = new Gauge('torch_gen_max_batch', 'KV-cache slots (requests decoded together).');
  readonly #memory = new Gauge('torch_gen_device_memory_bytes', 'Device memory the model holds: weights, KV cache and prefix cache.');
  readonly #prefixCached = new Gauge('torch_gen_prefix_cache_tokens', 'Prompt-prefix tokens whose keys and values the prefix cache holds now.');
  readonly #prefixCapacity = new Gauge('torch_gen_prefix_cache_capacity_tokens', 'Tokens the prefix cache can hold (its prefixCacheMiB budget).');
  readonly #prefixHits = new Counter('torch_gen_prefix_cache_hits_total', 'Requests that started from a cached prompt prefix.');
  readonly #prefixHitTokens = new Counter('torch_gen_prefix_cache_hit_tokens_total', 'Prompt tokens taken from the prefix cache instead of prefilled.');
  readonly #prefixEvictions = new Counter('torch_gen_prefix_cache_evictions_total', 'Prefix-cache blocks (16 tokens) given up for newer ones.');
  readonly #inFlight = new Gauge('torch_gen_http_generations_in_flight', 'HTTP requests with a generation running.');
  readonly #ready = new Gauge('torch_gen_ready', '1 when the models are loaded and warmed up and the server is not draining.');
  readonly #rates = new Map<string, TokenRate>();
  #timer: NodeJS.Timeout | undefined;

  requestFinished(route: string, method: string, status: number, seconds: number): void {
    this.#requests.inc({ route, method, status: String(status) });
    this.#duration.observe({ route }, seconds);
  }

  firstToken(model: string, seconds: number): void {
    this.#ttft.observe({ model }, seconds);
  }

  generationFinished(model: string, promptTokens: number, completionTokens: number): void {
    this.#promptTokens.inc({ model }, promptTokens);
    this.#completionTokens.inc({ model }, completionTokens);
  }

  /** Samples the engines' token counts once a second for the tokens/s gauge. */
  startSampling(models: () => readonly ServedModel[]): void {
    this.#timer ??= setInterval(() => {
      for (const { name, model } of models()) {
        if (model.disposed) continue;
        let rate = this.#rates.get(name);
        if (!rate) this.#rates.set(name, (rate = new TokenRate()));
        rate.sample(model.stats().tokensGenerated);
      }
    }, 1000).unref();
  }

  stopSampling(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  render(models: readonly ServedModel[], lifecycle: Lifecycle): string {
    const gauges = [this.#tokensPerSecond, this.#queue, this.#active, this.#maxBatch, this.#memory, this.#prefixCached, this.#prefixCapacity];
    for (const gauge of gauges) gauge.reset();
    for (const { name, model } of models) {
      if (model.disposed) continue;
      const stats = model.stats();
      const labels = { model: name };
      this.#engineTokens.setTotal(labels, stats.tokensGenerated);
      this.#tokensPerSecond.set(labels, Number((this.#rates.get(name)?.perSecond ?? 0).toFixed(3)));
      this.#queue.set(labels, stats.queuedRequests);
      this.#active.set(labels, stats.activeRequests);
      this.#maxBatch.set(labels, stats.maxBatch);
      this.#memory.set({ model: name, device: model.info.device }, stats.memoryBytes);
      const prefix = stats.prefixCache;
      if (prefix) {
        this.#prefixCached.set(labels, prefix.cachedTokens);
        this.#prefixCapacity.set(labels, prefix.capacityTokens);
        this.#prefixHits.setTotal(labels, prefix.hits);
        this.#prefixHitTokens.setTotal(labels, prefix.hitTokens);
        this.#prefixEvictions.setTotal(labels, prefix.evictions);
      }
    }
    this.#inFlight.set({}, lifecycle.inFlight);
    this.#ready.set({}, lifecycle.state === 'ready' ? 1 : 0);
    return renderMetrics([
      this.#requests,
      this.#duration,
      this.#ttft,
      this.#promptTokens,
      this.#completionTokens,
      this.#engineTokens,
      this.#tokensPerSecond,
      this.#queue,
      this.#active,
      this.#maxBatch,
      this.#memory,
      this.#prefixCached,
      this.#prefixCapacity,
      this.#prefixHits,
      this.#prefixHitTokens,
      this.#prefixEvictions,
      this.#inFlight,
      this.#ready,
    ]);
  }
}
