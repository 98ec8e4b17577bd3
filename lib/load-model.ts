/** loadModel(): checks a model directory, reads its manifest and tokenizer, and loads it in the addon. */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { debug } from './debug.js';
import { stopAtExit } from './exit-guard.js';
import { checkAotiPackage, warnThreadMismatch, withPackageDefaults } from './aoti.js';
import { ModelLoadError, fromNativeError } from './errors.js';
import { ChatTemplate } from './chat-template.js';
import { readGenerationConfig } from './generation-config.js';
import { readManifest } from './manifest.js';
import { capsBelowAvx512, environmentThreads, hostIsAmdZen4, physicalCores } from './cpu.js';
import { defaultPrefixCacheMiB, fitCpuDefaults } from './memory.js';
import { openModel, type Model, type ModelParts } from './model.js';
import { loadAddon, type NativeModel, type OneDnnIsaCap } from './native.js';
import { onednnIsaCapFor, resolveLoadOptions, type LoadModelOptions } from './options.js';
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
  const runtime = addon.runtimeInfo();
  // oneDNN runs the CPU's bfloat16 products; capped below AVX-512 (by an earlier load, or the environment)
  // it has no bfloat16 kernels at all.
  const capBefore = runtime.backend.onednnIsaCap;
  const bfloat16 = (runtime.cpuFeatures.avx512Bf16 || runtime.cpuFeatures.amx) && !capsBelowAvx512(capBefore.value);
  const cpu = { cores: physicalCores(), bfloat16, environmentThreads: environmentThreads(), zen4: hostIsAmdZen4() };
  const quantized = manifest.quantization !== null;
  const pkg = manifest.aoti;
  const effective = pkg ? withPackageDefaults(options, manifest.dtype, pkg) : options;
  const resolved = resolveLoadOptions(effective, () => runtime.cudaAvailable, manifest.maxContext, cpu, quantized);
  const { device, dtype, maxQueue, prefillChunk, cudaGraphs, cudaGraphBatchSizes, threads, optimizeGraph } = resolved;
  // Fixed here, with no await since the cap was read above, so that two loads started together agree; the
  // first CPU load of the process decides, before its model runs (oneDNN reads the cap once).
  const onednnCap: OneDnnIsaCap = device === 'cpu'
    ? addon.fixOneDnnIsaCap(onednnIsaCapFor({ device, dtype, quantized, aoti: pkg !== null, interface: manifest.interface }, cpu) ?? '')
    : capBefore;
  if (onednnCap.source === 'torch-gen' && capBefore.source === null) {
    debug('oneDNN capped at %s for this process by its first CPU load, %s (onednnIsaCapFor; ONEDNN_MAX_CPU_ISA=ALL keeps every kernel)', onednnCap.value, path);
  }
  if (device === 'cpu' && dtype === 'bfloat16' && !cpu.bfloat16) warnSlowBfloat16(onednnCap);
  if (manifest.quantization?.activationBits === 8 && !runtime.cpuFeatures.avx512Vnni) warnInt8Saturation(path);
  const explicit = {
    maxBatch: (options as LoadModelOptions | undefined)?.maxBatch !== undefined,
    maxContext: (options as LoadModelOptions | undefined)?.maxContext !== undefined,
  };
  const fitted = device === 'cpu' ? fitCpuDefaults(manifest, dtype, resolved, explicit) : resolved;
  const { maxContext } = fitted;
  // A logits model recomputes the whole sequence each step and decodes one request at a time: the plan
  // says so here, once, and the engine follows the spec it gets.
  const maxBatch = manifest.interface === 'logits' ? 1 : fitted.maxBatch;
  const prefixCacheMiB = resolved.prefixCacheMiB ?? defaultPrefixCacheMiB(manifest, maxBatch, maxContext, dtype);
  if (pkg) {
    checkAotiPackage(pkg, manifest.dtype, { device, dtype, torchVersion: runtime.torchVersion, cpuFeatures: runtime.cpuFeatures, arch: process.arch, onednnCap }, path);
    warnThreadMismatch(pkg, threads, path);
  }
  const modelFile = join(path, pkg ? pkg.file : 'model.pt');
  await checkFile(modelFile, pkg ? 'the AOTInductor package' : 'the TorchScript module');
  const tokenizer = await Tokenizer.fromDirectory(path);
  checkTokenizerFitsModel(tokenizer, manifest.vocabSize, path);
  const generationConfig = await readGenerationConfig(path, manifest.vocabSize);
  const chatTemplate = await ChatTemplate.fromDirectory(path);

  const eosTokenIds = [...new Set([...manifest.eosTokenIds, ...generationConfig.eosTokenIds])];
  const spec = {
    modelPath: modelFile,
    moduleFormat: pkg ? ('aoti' as const) : ('torchscript' as const),
    interface: manifest.interface,
    vocabSize: manifest.vocabSize,
    maxContext,
    numLayers: manifest.numLayers,
    numKvHeads: manifest.numKvHeads,
    headDim: manifest.headDim,
    maxBatch,
    maxQueue,
    prefillChunk,
    prefixCacheMiB,
    device,
    dtype,
    // An AOTInductor package's kernels are not captured into CUDA graphs (AOTInductor has no graph support yet).
    cudaGraphs: cudaGraphs && !pkg,
    // The CPU has no graphs, nor has a logits model (no decode step); the CPU may also have lowered maxBatch.
    cudaGraphBatchSizes: device === 'cpu' || manifest.interface === 'logits' ? [] : cudaGraphBatchSizes,
    threads,
    optimizeGraph,
    // The grammar engine's vocabulary (constrained decoding) is read from here once, at load.
    tokenizerPath: join(path, 'tokenizer.json'),
    eosTokenIds,
  };
  const describe = (native: NativeModel): ModelParts => {
    const loaded = native.stats();
    return {
      tokenizer,
      samplingDefaults: generationConfig.sampling,
      chatTemplate,
      grammarEngine: runtime.grammarEngine || null,
      info: {
        architecture: manifest.architecture,
        family: manifest.family,
        features: manifest.features,
        interface: manifest.interface,
        vocabSize: manifest.vocabSize,
        maxContext,
        maxBatch,
        numLayers: manifest.numLayers,
        numHeads: manifest.numHeads,
        numKvHeads: manifest.numKvHeads,
        headDim: manifest.headDim,
        device,
        dtype,
        bosTokenId: manifest.bosTokenId,
        eosTokenIds,
        parameters: loaded.parameters,
        threads: loaded.threads,
        graphNodes: loaded.graphNodes,
        graphOptimization: loaded.graphOptimization,
        hasChatTemplate: chatTemplate !== undefined,
        quantization: manifest.quantization?.method ?? null,
        path,
      },
    };
  };
  let model: Model;
  try {
    model = await openModel(async (onEvents) => {
      const native = await addon.loadModel(spec, onEvents);
      stopAtExit(native);
      return native;
    }, describe);
  } catch (error) {
    const typed = fromNativeError(error, caller);
    const header = `${typed.name}: ${typed.message}`;
    typed.message = `${path}: ${typed.message}`;
    // The stack's first line was written with the message; keep the two the same.
    if (typed.stack?.startsWith(header)) typed.stack = `${typed.name}: ${typed.message}${typed.stack.slice(header.length)}`;
    throw typed;
  }
  const threadSource = (options as LoadModelOptions | undefined)?.threads !== undefined ? 'the threads option'
    : cpu.environmentThreads !== null ? 'OMP_NUM_THREADS' : 'the physical cores';
  debug('loaded %s (%s, %s) on %s as %s, %d threads from %s', path, manifest.architecture, manifest.interface, device, dtype, threads, threadSource);
  return model;
}

let warnedSlowBfloat16 = false;

// bfloat16 without bfloat16 instructions is emulated and slower than float32: say so once, never silently.
function warnSlowBfloat16(cap: OneDnnIsaCap): void {
  if (warnedSlowBfloat16) return;
  warnedSlowBfloat16 = true;
  const why = cap.source === 'torch-gen'
    ? `oneDNN runs at most ${cap.value} in this process, as torch-gen set it for the float32 model loaded first ` +
      '(faster on AMD Zen 4); start the process with ONEDNN_MAX_CPU_ISA=ALL, or load the bfloat16 model first, to keep its bfloat16 kernels'
    : cap.value !== null && capsBelowAvx512(cap.value)
      ? `ONEDNN_MAX_CPU_ISA=${cap.value} caps oneDNN below AVX-512, where it has no bfloat16 kernels`
      : 'this CPU has no avx512_bf16 or AMX';
  process.emitWarning(
    `dtype 'bfloat16' runs without bfloat16 instructions here and is slower than float32: ${why}; ` +
      "otherwise use dtype 'float32', or 'auto' to pick the faster one",
    { code: 'TORCH_GEN_SLOW_BFLOAT16' },
  );
}

// fbgemm's int8 products without VNNI sum pairs in int16, which 8-bit activations can overflow.
function warnInt8Saturation(dir: string): void {
  process.emitWarning(
    `${dir} was exported with 8-bit int8 activations, which are exact only on CPUs with VNNI (avx512_vnni); ` +
      'this CPU has none, so some products may saturate. Re-export on this machine, or with ' +
      '`--int8-activation-bits 7`',
    { code: 'TORCH_GEN_INT8_SATURATION' },
  );
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
