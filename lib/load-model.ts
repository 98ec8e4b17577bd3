/** loadModel(): checks a model directory, reads its manifest and tokenizer, and loads it in the addon. */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { debug } from './debug.js';
import { stopAtExit } from './exit-guard.js';
import { ModelLoadError, fromNativeError } from './errors.js';
import { ChatTemplate } from './chat-template.js';
import { readGenerationConfig } from './generation-config.js';
import { readManifest } from './manifest.js';
import { fitCpuDefaults } from './memory.js';
import { Model, dispatchEvents } from './model.js';
import { loadAddon, type NativeEvent } from './native.js';
import { resolveLoadOptions, type LoadModelOptions } from './options.js';
import type { RequestStream } from './request-stream.js';
import { Tokenizer } from './tokenizer.js';

/**
 * Loads a torch-gen model directory (model.pt, torch-gen.json, tokenizer.json). The weights are read
 * and checked off the JavaScript thread.
 *
 * @example
 * await using model = await loadModel('./models/smollm2-135m-instruct', { device: 'cpu' });
 */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<Model> {
  const caller = new Error();
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new ModelLoadError(`loadModel: expected the path of a model directory, received ${JSON.stringify(dir)}`);
  }
  const addon = loadAddon();
  const path = resolve(dir);
  await checkDirectory(path);
  const manifest = await readManifest(path);
  const resolved = resolveLoadOptions(options, () => addon.runtimeInfo().cudaAvailable, manifest.maxContext);
  const { device, dtype, maxQueue, prefillChunk, cudaGraphs, cudaGraphBatchSizes } = resolved;
  const explicit = {
    maxBatch: (options as LoadModelOptions | undefined)?.maxBatch !== undefined,
    maxContext: (options as LoadModelOptions | undefined)?.maxContext !== undefined,
  };
  const { maxBatch, maxContext } = device === 'cpu' ? fitCpuDefaults(manifest, dtype, resolved, explicit) : resolved;
  const modelFile = join(path, 'model.pt');
  await checkFile(modelFile, 'the TorchScript module');
  const tokenizer = await Tokenizer.fromDirectory(path);
  checkTokenizerFitsModel(tokenizer, manifest.vocabSize, path);
  const generationConfig = await readGenerationConfig(path, manifest.vocabSize);
  const chatTemplate = await ChatTemplate.fromDirectory(path);

  const streams = new Map<number, RequestStream>();
  const onEvents = (events: NativeEvent[]) => {
    try {
      dispatchEvents(streams, events);
    } catch (error) {
      debug('event dispatch failed: %o', error);
    }
  };
  let native;
  try {
    native = await addon.loadModel(
      {
        modelPath: modelFile,
        interface: manifest.interface,
        vocabSize: manifest.vocabSize,
        maxContext,
        numLayers: manifest.numLayers,
        numKvHeads: manifest.numKvHeads,
        headDim: manifest.headDim,
        maxBatch,
        maxQueue,
        prefillChunk,
        device,
        dtype,
        cudaGraphs,
        // The CPU has no graphs, and may have lowered maxBatch below the sizes just resolved.
        cudaGraphBatchSizes: device === 'cpu' ? [] : cudaGraphBatchSizes,
      },
      onEvents,
    );
  } catch (error) {
    const typed = fromNativeError(error, caller);
    const header = `${typed.name}: ${typed.message}`;
    typed.message = `${path}: ${typed.message}`;
    // The stack's first line was written with the message; keep the two the same.
    if (typed.stack?.startsWith(header)) typed.stack = `${typed.name}: ${typed.message}${typed.stack.slice(header.length)}`;
    throw typed;
  }
  stopAtExit(native);
  debug('loaded %s (%s, %s) on %s as %s', path, manifest.architecture, manifest.interface, device, dtype);
  const info = {
    architecture: manifest.architecture,
    interface: manifest.interface,
    vocabSize: manifest.vocabSize,
    maxContext,
    maxBatch: manifest.interface === 'logits' ? 1 : maxBatch,
    numLayers: manifest.numLayers,
    numHeads: manifest.numHeads,
    numKvHeads: manifest.numKvHeads,
    headDim: manifest.headDim,
    device,
    dtype,
    bosTokenId: manifest.bosTokenId,
    eosTokenIds: [...new Set([...manifest.eosTokenIds, ...generationConfig.eosTokenIds])],
    parameters: native.stats().parameters,
    hasChatTemplate: chatTemplate !== undefined,
    path,
  };
  return new Model({ native, streams, tokenizer, info, samplingDefaults: generationConfig.sampling, chatTemplate });
}

async function checkDirectory(path: string): Promise<void> {
  try {
    const info = await stat(path);
    if (!info.isDirectory()) throw new ModelLoadError(`${path} is not a directory; pass the model's directory, not a file in it`);
  } catch (error) {
    if (error instanceof ModelLoadError) throw error;
    throw new ModelLoadError(
      `model directory ${path} does not exist; export one with \`python -m torch_gen_export\` ` +
        '(or `npm run model:default` for the default model)',
      { cause: error },
    );
  }
}

// A token id the tokenizer can produce but the model has no row for would fail on a user's request (or, for a
// prompt given as text, be refused with a confusing message); refuse the pair at load instead. A tokenizer
// smaller than the model is normal: vocabularies are padded to a multiple of 64 or 128.
function checkTokenizerFitsModel(tokenizer: Tokenizer, vocabSize: number, dir: string): void {
  if (tokenizer.maxTokenId < vocabSize) return;
  throw new ModelLoadError(
    `${join(dir, 'tokenizer.json')} has token ids up to ${tokenizer.maxTokenId} but torch-gen.json says the model ` +
      `takes vocab_size ${vocabSize} (ids 0 to ${vocabSize - 1}): the tokenizer is not this model's; ` +
      "copy in the tokenizer files the model was exported with, or re-export the model",
  );
}

async function checkFile(path: string, what: string): Promise<void> {
  try {
    const info = await stat(path);
    if (!info.isFile() || info.size === 0) throw new Error('empty or not a file');
  } catch (error) {
    throw new ModelLoadError(`${path} (${what}) is missing or empty; re-export the model`, { cause: error });
  }
}
