/** The tool-call formats torch-gen reads, and the one a chat template defines. */
import type { ToolCallFormat } from '../tool-call-format.js';
import { hermes } from './hermes.js';
import { llama3Json } from './llama3-json.js';
import { mistral } from './mistral.js';

// Mistral's marker first: its templates can mention JSON "parameters" too.
export const TOOL_CALL_FORMATS: readonly ToolCallFormat[] = [mistral, hermes, llama3Json];

/** The format `templateSource` writes calls in, or undefined when it defines none torch-gen knows. */
export function toolCallFormatOf(templateSource: string): ToolCallFormat | undefined {
  return TOOL_CALL_FORMATS.find((format) => format.detect(templateSource));
}
