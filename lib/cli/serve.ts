/**
 * `torch-gen serve`: the OpenAI-compatible HTTP server. It listens at once (GET /health answers 503 while
 * the models load), logs one JSON line per request on standard output, and on SIGTERM or SIGINT stops
 * taking requests, drains the ones in flight, disposes the models and exits 0.
 */
import { basename } from 'node:path';
import pino from 'pino';
import { OptionError } from '../errors.js';
import type { Model } from '../model.js';
import type { LoadModelOptions } from '../options.js';
import { createServer } from '../server/server.js';
import { DEFAULT_MODEL_DIR, integerFlag, numberFlag, parse, stringFlag, stringsFlag } from './args.js';
import { LOAD_FLAGS, LOAD_HELP, loadOptions, loadWithProgress } from './load-flags.js';
import { Progress } from './progress.js';

/** The port serve listens on unless told otherwise; the image exposes it and deploy/ targets it. */
export const DEFAULT_PORT = 8000;

const HELP = `Usage: torch-gen serve [options]

Serves models over an OpenAI-compatible HTTP API: POST /v1/completions, POST /v1/chat/completions
(streamed as server-sent events with "stream": true), GET /v1/models, GET /health, GET /metrics
(Prometheus). Request logs are JSON lines on standard output; status lines go to standard error.
SIGTERM or SIGINT drains the requests in flight, then exits 0 (a second signal aborts them).

Options:
  -m, --model [NAME=]DIR        a model to serve, under NAME (default: the directory's name); repeatable
                                (default: $TORCH_GEN_MODEL or ${DEFAULT_MODEL_DIR})
      --host HOST               the address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  -p, --port PORT               the port (default ${DEFAULT_PORT}; 0 picks a free one)
      --api-key KEY             require \`Authorization: Bearer KEY\` on /v1 (default: $TORCH_GEN_API_KEY; none)
      --max-body-bytes N        largest request body (default 1048576)
      --max-prompt-tokens N     most prompt tokens per request (default: the model's context)
      --max-tokens-limit N      largest max_tokens a request may ask for (default: the model's context)
      --drain-timeout SECONDS   how long in-flight requests may finish after SIGTERM (default 30)
      --log-level LEVEL         fatal, error, warn, info, debug, trace or silent (default info)
      --log-prompts             also log prompts and generated text (never logged otherwise)
      --no-warm-up              report ready without a first short generation
  -q, --quiet                   no progress line while the models load
  -h, --help                    show this help

Loading (each model):
${LOAD_HELP}`;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

interface ModelSpec {
  name: string;
  dir: string;
}

function modelSpecs(values: Record<string, unknown>): ModelSpec[] {
  const raw = stringsFlag(values as Parameters<typeof stringsFlag>[0], 'model');
  const dirs = raw.length > 0 ? raw : [process.env.TORCH_GEN_MODEL ?? DEFAULT_MODEL_DIR];
  const specs = dirs.map((spec) => {
    const match = /^([\w.-]+)=(.+)$/.exec(spec);
    return match ? { name: match[1] as string, dir: match[2] as string } : { name: basename(spec.replace(/\/+$/, '')), dir: spec };
  });
  const names = new Set<string>();
  for (const { name } of specs) {
    if (names.has(name)) throw new OptionError('--model', `two models are named \`${name}\`; name them with --model NAME=DIR`);
    names.add(name);
  }
  return specs;
}

/** Loads the models one after another; on a failure disposes those already loaded. */
async function loadAll(specs: ModelSpec[], options: LoadModelOptions, progress: Progress): Promise<Record<string, Model>> {
  const models: Record<string, Model> = {};
  try {
    for (const { name, dir } of specs) {
      try {
        models[name] = await loadWithProgress(dir, options, progress);
      } catch (error) {
        // With several models, the one that failed must be named; the error keeps its type and code.
        if (error instanceof Error) error.message = `model ${name} failed to load: ${error.message}`;
        throw error;
      }
    }
    return models;
  } catch (error) {
    await Promise.all(Object.values(models).map((model) => model.dispose()));
    throw error;
  }
}

/** Resolves with the name of the first SIGTERM or SIGINT; `onRepeat` runs on every later one. */
function shutdownSignal(onRepeat: () => void): { received: Promise<string>; remove: () => void } {
  let first: ((signal: string) => void) | undefined;
  const received = new Promise<string>((resolve) => (first = resolve));
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count += 1;
    if (count === 1) first?.(signal);
    else onRepeat();
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return {
    received,
    remove: () => {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
    },
  };
}

export async function runServe(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...LOAD_FLAGS,
    model: { type: 'string', short: 'm', multiple: true },
    host: { type: 'string' },
    port: { type: 'string', short: 'p' },
    'api-key': { type: 'string' },
    'max-body-bytes': { type: 'string' },
    'max-prompt-tokens': { type: 'string' },
    'max-tokens-limit': { type: 'string' },
    'drain-timeout': { type: 'string' },
    'log-level': { type: 'string' },
    'log-prompts': { type: 'boolean' },
    'no-warm-up': { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const specs = modelSpecs(values);
  const port = integerFlag('port', stringFlag(values, 'port')) ?? DEFAULT_PORT;
  if (port < 0 || port > 65535) throw new OptionError('--port', `expected an integer in [0, 65535], received ${port}`);
  const drainSeconds = numberFlag('drain-timeout', stringFlag(values, 'drain-timeout')) ?? 30;
  if (drainSeconds < 0) throw new OptionError('--drain-timeout', `expected a number of seconds >= 0, received ${drainSeconds}`);
  const level = stringFlag(values, 'log-level') ?? 'info';
  if (!LOG_LEVELS.includes(level)) throw new OptionError('--log-level', `expected one of ${LOG_LEVELS.join(', ')}, received ${JSON.stringify(level)}`);
  const apiKey = stringFlag(values, 'api-key') ?? (process.env.TORCH_GEN_API_KEY || undefined);
  const limits = {
    maxBodyBytes: integerFlag('max-body-bytes', stringFlag(values, 'max-body-bytes')),
    maxPromptTokens: integerFlag('max-prompt-tokens', stringFlag(values, 'max-prompt-tokens')),
    maxTokensLimit: integerFlag('max-tokens-limit', stringFlag(values, 'max-tokens-limit')),
  };
  const progress = new Progress({ quiet: values.quiet === true });
  const loading = loadAll(specs, loadOptions(values), progress);
  loading.catch(() => {}); // reported through server.ready
  const server = createServer(loading, {
    ...(apiKey === undefined ? {} : { apiKey }),
    ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)),
    logger: pino({ level }),
    logPrompts: values['log-prompts'] === true,
    warmUp: values['no-warm-up'] !== true,
  });
  const signals = shutdownSignal(() => {
    process.stderr.write('torch-gen serve: second signal, aborting the requests in flight\n');
    void server.close({ drainTimeoutMs: 0 });
  });
  try {
    const address = await server.listen({ port, host: stringFlag(values, 'host') ?? '127.0.0.1' });
    const names = specs.map((s) => s.name).join(', ');
    // Listening while the models load lets an orchestrator probe /health (503 until ready); the line says so,
    // and the ready line is the one that says requests are served.
    process.stderr.write(`torch-gen serve: listening on ${address}, loading ${names} (/health answers 503 until ready)\n`);
    const started = await Promise.race([server.ready.then(() => 'ready'), signals.received]);
    if (started === 'ready') {
      process.stderr.write(`torch-gen serve: ready, serving ${names} (OpenAI API at ${address}/v1)\n`);
      const signal = await signals.received;
      process.stderr.write(`torch-gen serve: ${signal}: draining requests in flight (at most ${drainSeconds} s)\n`);
    }
    await server.close({ drainTimeoutMs: drainSeconds * 1000 });
  } catch (error) {
    await server.close({ drainTimeoutMs: 0 });
    throw error;
  } finally {
    signals.remove();
    const models = await loading.catch(() => ({}) as Record<string, Model>);
    await Promise.all(Object.values(models).map((model) => model.dispose()));
  }
  process.stderr.write('torch-gen serve: stopped\n');
  return 0;
}
