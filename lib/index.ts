/**
 * @org/torch-gen: run causal language models in-process on libtorch.
 *
 * @example
 * import { loadModel } from '@org/torch-gen';
 * await using model = await loadModel('./models/smollm2-135m-instruct');
 * for await (const chunk of model.generate('Once upon a time', { maxTokens: 32 })) process.stdout.write(chunk.text);
 */
export { loadModel } from './load-model.js';
export { Model } from './model.js';
export type {
  ChatChunk,
  ChatCompletion,
  ChatFinishReason,
  ChatOptions,
  Completion,
  FinishReason,
  GenerationChunk,
  ModelInfo,
  ModelStats,
  Prompt,
  Timings,
  TokenAlternative,
  TokenLogprob,
  Usage,
} from './model.js';
export type { ChatMessage } from './chat-template.js';
export type { ToolCall, ToolChoice, ToolDefinition, ToolOptions } from './tool-calls/tools.js';
export type { ToolCallDelta } from './tool-calls/tool-call-reader.js';
export { Tokenizer } from './tokenizer.js';
export type { DecodeOptions, EncodeOptions } from './tokenizer.js';
export { runtimeInfo } from './runtime.js';
export type { BackendSettings, OneDnnIsaCap, RuntimeInfo } from './runtime.js';
export type { Device, Dtype, GenerateOptions, LoadModelOptions } from './options.js';
export type { JsonSchema, ResponseFormat } from './response-format.js';
export {
  ContextLengthError,
  DeviceError,
  DisposedError,
  GenerationError,
  GrammarUnavailableError,
  ModelLoadError,
  NativeBindingError,
  OptionError,
  OutOfMemoryError,
  QueueFullError,
  ResponseFormatError,
  TorchGenError,
} from './errors.js';
export type { ErrorCode } from './errors.js';
