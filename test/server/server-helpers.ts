import { Writable } from 'node:stream';
import OpenAI from 'openai';
import pino from 'pino';
import type { Model } from '@org/torch-gen';
import { createServer, type ServerOptions, type TorchGenServer } from '@org/torch-gen/server';

export interface Running {
  server: TorchGenServer;
  url: string;
  /** An openai client for this server (no retries, so a 429 or 503 shows as it is). */
  client: (apiKey?: string) => OpenAI;
  /** The JSON log lines written so far. */
  logs: Record<string, unknown>[];
}

/** Starts a server on 127.0.0.1, port 0, with its logs captured in memory. */
export async function startServer(models: Model | Record<string, Model>, options: Omit<ServerOptions, 'logger'> = {}): Promise<Running> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const server = createServer(models, { ...options, logger: pino({ level: 'info' }, sink) });
  const url = await server.listen({ port: 0, host: '127.0.0.1' });
  await server.ready;
  const client = (apiKey = options.apiKey ?? 'unused') => new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0, timeout: 60_000 });
  return { server, url, client, logs };
}

export interface RawStream {
  status: number;
  headers: Headers;
  /** The body exactly as sent. */
  raw: string;
  /** The JSON payloads of its `data:` events, [DONE] left out. */
  events: Record<string, unknown>[];
}

/** POSTs with fetch and reads the whole body, to check the SSE framing byte for byte. */
export async function postRaw(url: string, body: unknown, headers: Record<string, string> = {}): Promise<RawStream> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const raw = await response.text();
  const events = raw
    .split('\n\n')
    .filter((event) => event.startsWith('data: ') && event !== 'data: [DONE]')
    .map((event) => JSON.parse(event.slice('data: '.length)) as Record<string, unknown>);
  return { status: response.status, headers: response.headers, raw, events };
}
