/**
 * Answering a generation: as a stream of server-sent events, or as one JSON body; what to do when it was
 * aborted (nothing for a client that left, 503 for a server that shut down).
 */
import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { ChatChunk } from '../model.js';
import type { Generation } from './generation.js';
import { HttpError, toHttpError } from './openai-errors.js';
import { SSE_DONE, SSE_HEADERS, sseData } from './openai-format.js';

/** Turns one chunk into the events it stands for (none while a stop string is being matched, say). */
export type ChunkRenderer = (chunk: ChatChunk) => string[];

const shutdownError = () => new HttpError(503, 'the server shut down before this request finished; retry it', { code: 'server_shutting_down' });

async function* events(generation: Generation, render: ChunkRenderer): AsyncGenerator<string, void, undefined> {
  try {
    for await (const chunk of generation.chunks()) {
      if (chunk.finishReason === 'abort') {
        // A client that left gets nothing more; one cut off by shutdown (or an unloaded model) learns why.
        // Neither gets [DONE].
        if (generation.abortCause !== 'client-closed') yield sseData(shutdownError().body);
        return;
      }
      yield* render(chunk);
    }
    yield SSE_DONE;
  } catch (error) {
    // After the headers the status is sent; OpenAI's clients read an `error` event as a failure.
    yield sseData(toHttpError(error).body);
  }
}

/** Streams the generation as OpenAI does: `data: {...}\n\n` per chunk, then `data: [DONE]\n\n`. */
export function sendEventStream(reply: FastifyReply, generation: Generation, render: ChunkRenderer): FastifyReply {
  reply.headers(SSE_HEADERS);
  return reply.send(Readable.from(events(generation, render), { objectMode: false }));
}

/**
 * For a non-streamed generation that ended in 'abort': a client that left is not answered; shutdown (or
 * a model disposed meanwhile) is a 503.
 */
export function answerAborted(reply: FastifyReply, generation: Generation): FastifyReply {
  if (generation.abortCause !== 'client-closed') throw shutdownError();
  reply.hijack();
  if (!reply.raw.destroyed) reply.raw.destroy();
  return reply;
}
