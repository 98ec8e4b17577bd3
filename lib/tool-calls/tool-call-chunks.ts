/**
 * A chat reply's chunks with its tool calls read out: content stays `text`, calls go to `toolCalls` as
 * OpenAI streams them, and a reply that called ends with finish reason 'tool_calls'.
 */
import { ResponseFormatError } from '../errors.js';
import type { ChatChunk, GenerationChunk } from '../model.js';
import type { ChatPlan } from './chat-plan.js';
import type { ToolCallReader } from './tool-call-reader.js';

type Chunks<T> = AsyncGenerator<T, void, undefined>;

async function* read(chunks: Chunks<GenerationChunk>, plan: ChatPlan, reader: ToolCallReader): Chunks<ChatChunk> {
  try {
    for await (const chunk of chunks) {
      const piece = reader.push(chunk.text);
      let text = piece.text;
      const toolCalls = piece.toolCalls;
      const out: ChatChunk = { ...chunk, text };
      if (chunk.finishReason !== undefined) {
        const end = reader.end();
        text += end.text;
        toolCalls.push(...end.toolCalls);
        out.text = text;
        // A reply cut by maxTokens keeps 'length', as OpenAI's does, with what it has of its calls.
        if (reader.called && chunk.finishReason === 'stop') out.finishReason = 'tool_calls';
      }
      if (toolCalls.length > 0) out.toolCalls = toolCalls;
      yield out;
    }
  } catch (error) {
    // The grammar engine refused the constraint that the tools made: the error is about their parameters.
    if (error instanceof ResponseFormatError && plan.relabel) throw plan.relabel(error);
    throw error;
  }
}

/** `chunks` (a generate() stream of the plan's prompt) as chat chunks. */
export function withToolCalls(chunks: Chunks<GenerationChunk>, plan: ChatPlan): Chunks<ChatChunk> {
  if (!plan.reader) return chunks;
  const chat = read(chunks, plan, plan.reader);
  // return() before the first next() skips read()'s body, which would have ended `chunks`: end it here.
  const end = chat.return.bind(chat);
  chat.return = async (value) => {
    await chunks.return(undefined);
    return end(value);
  };
  return chat;
}
