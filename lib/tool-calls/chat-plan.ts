/**
 * What a chat request with tools becomes: the prompt (tools rendered by the template, or described in a
 * system message), the constraint its toolChoice puts on the reply, and the reader that takes the calls out
 * of the reply.
 */
import { templateMessages, type ChatMessage } from '../chat-messages.js';
import type { ChatTemplate } from '../chat-template.js';
import { debug } from '../debug.js';
import { OptionError, ResponseFormatError } from '../errors.js';
import type { ResponseFormat } from '../response-format.js';
import { requiredCallsLabel, requiredCallsSchema } from './call-schema.js';
import { hermes } from './formats/hermes.js';
import { toolCallFormatOf } from './formats/index.js';
import { openAiCallId } from './tool-call-format.js';
import { ToolCallReader } from './tool-call-reader.js';
import { toolHistoryAsText, withToolDescription } from './tool-prompt.js';
import type { ResolvedTools } from './tools.js';

export interface ChatPlan {
  prompt: string;
  /** The constraint of toolChoice 'required' or a named function. */
  responseFormat?: ResponseFormat;
  /** Reads the calls out of the reply; none when the request cannot call. */
  reader?: ToolCallReader;
  /** The grammar engine's refusal of that constraint, as an error about the tool's parameters. */
  relabel?: (error: ResponseFormatError) => OptionError;
}

function parametersError(error: ResponseFormatError, label: string | undefined): OptionError {
  if (label === undefined) return error;
  return new OptionError('tools', `the grammar engine cannot compile this schema: ${error.engineMessage}`, { label, cause: error });
}

/** The plan of a chat request; `tools` as resolveTools() gives them (undefined: no tools). */
export function planChat(template: ChatTemplate, messages: readonly ChatMessage[], tools: ResolvedTools | undefined): ChatPlan {
  const native = template.supportsTools;
  // A template that cannot show calls and results gets them as text (templateMessages checks them first).
  const history = native ? messages : toolHistoryAsText(templateMessages(messages));
  // With toolChoice 'none' the model is not shown the tools, so that it does not write a call no one reads.
  if (tools === undefined || tools.choice === 'none') return { prompt: template.render(history) };
  const prompt = native ? template.render(history, { tools: tools.tools }) : template.render(withToolDescription(history, tools.tools));
  // Our description asks for Hermes' format.
  const format = native ? toolCallFormatOf(template.source) : hermes;
  const newId = format?.newId ?? openAiCallId;
  const choice = tools.choice;
  if (choice === 'auto') {
    if (format === undefined) {
      debug("toolChoice 'auto': the chat template defines no tool-call format torch-gen reads; the reply is text");
      return { prompt };
    }
    return { prompt, reader: new ToolCallReader({ kind: 'auto', format, parallel: tools.parallel }, newId) };
  }
  if (choice === 'required') {
    return {
      prompt,
      responseFormat: { type: 'json_schema', schema: requiredCallsSchema(tools.tools, tools.parallel) },
      reader: new ToolCallReader({ kind: 'required', parallel: tools.parallel }, newId),
      relabel: (error) => parametersError(error, requiredCallsLabel(error.path, tools.tools)),
    };
  }
  const index = tools.tools.indexOf(choice.tool);
  return {
    prompt,
    responseFormat: { type: 'json_schema', schema: choice.tool.function.parameters ?? { type: 'object' } },
    reader: new ToolCallReader({ kind: 'named', name: choice.name }, newId),
    relabel: (error) => parametersError(error, `tools[${index}].function.parameters${error.path}`),
  };
}
