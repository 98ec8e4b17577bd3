import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadModel, OutOfMemoryError, runtimeInfo, type Model } from '@org/torch-gen';
import { defaultModelDir, fixture, readExpected } from '../helpers.js';

// The CPU decode step's speed paths (issue 14): the engine's own thread count, the frozen and optimised
// graph (oneDNN linear layers; bfloat16 in cpu-bfloat16.test.ts, oneDNN's instruction set in
// onednn-isa-cap.test.ts), and int8 models. Speed itself is measured in bench/peers;
// these tests check that each path is taken and computes what it should.

/** CPU time (user + system, in clock ticks) of every thread of this process, by thread id. */
function threadCpuTicks(): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      // Fields after the command name (which may hold spaces, hence the last ')'): utime and stime are 14 and 15.
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks.set(tid, Number(fields[11]) + Number(fields[12]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return ticks;
}

describe('threads', () => {
  test('info.threads is the threads option as the engine applied it, and defaults to the physical cores', async () => {
    const saved = process.env.OMP_NUM_THREADS;
    delete process.env.OMP_NUM_THREADS;
    const one = await loadModel(fixture('llama-kv'), { device: 'cpu', threads: 1 });
    const three = await loadModel(fixture('llama-kv'), { device: 'cpu', threads: 3 });
    const byDefault = await loadModel(fixture('llama-kv'), { device: 'cpu' });
    try {
      expect(one.info.threads).toBe(1);
      expect(three.info.threads).toBe(3);
      expect(byDefault.info.threads).toBe(runtimeInfo().cpuCores);
      expect(runtimeInfo().defaultThreads).toBe(runtimeInfo().cpuCores);
    } finally {
      if (saved !== undefined) process.env.OMP_NUM_THREADS = saved;
      await Promise.all([one.dispose(), three.dispose(), byDefault.dispose()]);
    }
  });

  // A deployment caps each process with OMP_NUM_THREADS (bench/replicas starts three servers on two cores
  // with 1 each): without a threads option, a model takes that count, as PyTorch's own default does.
  test('without the threads option, a model takes OMP_NUM_THREADS from the environment', async () => {
    const saved = process.env.OMP_NUM_THREADS;
    process.env.OMP_NUM_THREADS = '1';
    let capped: Model | undefined;
    try {
      expect(runtimeInfo().defaultThreads).toBe(1);
      capped = await loadModel(fixture('llama-kv'), { device: 'cpu' });
      expect(capped.info.threads).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.OMP_NUM_THREADS;
      else process.env.OMP_NUM_THREADS = saved;
      await capped?.dispose();
    }
  });

  // Counts the threads that did real work during one batch-1 generation: the engine thread and, with
  // threads: 2, the second thread of libtorch's pool. CPU time per thread, not wall time, so a busy
  // machine (other test files run beside this one) slows the test but does not change what it sees.
  test.skipIf(availableParallelism() < 2)('two threads compute a batch-1 decode step with threads: 2', async () => {
    const model = await loadModel(defaultModelDir, { device: 'cpu', threads: 2, maxBatch: 1 });
    try {
      await model.complete('Warm up', { maxTokens: 4 });
      const before = threadCpuTicks();
      await model.complete('The three best things about Node.js are', { maxTokens: 48 });
      const deltas = [...threadCpuTicks()].map(([tid, ticks]) => ticks - (before.get(tid) ?? 0)).sort((a, b) => b - a);
      const busiest = deltas[0]!;
      expect(busiest).toBeGreaterThan(10); // 0.1 s of CPU at least: the generation ran
      // The second busiest thread did at least a quarter of the busiest one's work (about half when
      // the matrix products split evenly; the engine thread also runs the serial parts).
      expect(deltas[1]!).toBeGreaterThan(busiest / 4);
    } finally {
      await model.dispose();
    }
  });
});

/** Voluntary context switches (sleeps) of one thread so far. */
function sleepsOf(tid: string): number {
  const status = readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
  return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)![1]);
}

const engineThreads = () =>
  readdirSync('/proc/self/task').filter((tid) => {
    try {
      return readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'torchgen-engine';
    } catch {
      return false;  // the thread ended meanwhile
    }
  });

// native/core/openmp_threads.h: while a process holds more OpenMP team threads than CPUs, libgomp puts a
// region's workers to sleep at once and wakes them through the kernel for the next (~60 us a region on a
// 2-vCPU VM, a quarter of a float32 step). So the load runs on a thread of its own whose team ends with
// it, and a model keeps one team: the engine thread and its workers (which inherit its name). Counted in
// sleeps, not time, so a busy machine does not change what the test sees: a worker that spins between the
// step's ~120 regions sleeps about once a token; one that is woken for every region, ~280 times a token
// (two models loaded on this 2-vCPU VM: 13,308 sleeps in 48 tokens against 24 with one).
describe('OpenMP teams', () => {
  test.skipIf(process.platform !== 'linux' || availableParallelism() < 2)(
    'the engine thread and its worker are the only team: the worker waits between regions without sleeping',
    async () => {
      const model = await loadModel(defaultModelDir, { device: 'cpu', threads: 2, maxBatch: 1 });
      try {
        await model.complete('Warm up', { maxTokens: 4 });
        const team = engineThreads();
        expect(team).toHaveLength(2);  // the engine thread and the one worker of its 2-thread team
        const before = team.map(sleepsOf);
        const { usage } = await model.complete('The three best things about Node.js are', { maxTokens: 48 });
        const sleeps = team.map((tid, i) => sleepsOf(tid) - before[i]!);
        expect(Math.max(...sleeps)).toBeLessThan(5 * usage.completionTokens);
      } finally {
        await model.dispose();
      }
      expect(engineThreads()).toEqual([]);
    });

  test('a load that fails on its own thread keeps its typed error', async () => {
    // The fixture's load-time check raises CUDA's out-of-memory message (on the CPU): the error crosses
    // from the load thread to the caller with its type.
    await expect(loadModel(fixture('faulty-kv-load-oom'), { device: 'cpu', threads: 2 })).rejects.toBeInstanceOf(OutOfMemoryError);
  });
});

describe('graph optimisation (optimizeGraph)', () => {
  const expected = readExpected('llama-kv');
  let optimized: Model;
  let asExported: Model;
  beforeAll(async () => {
    optimized = await loadModel(fixture('llama-kv'), { device: 'cpu', threads: 1 });
    asExported = await loadModel(fixture('llama-kv'), { device: 'cpu', threads: 1, optimizeGraph: false });
  });
  afterAll(() => Promise.all([optimized.dispose(), asExported.dispose()]));

  test('freezes the module on the CPU, with fewer graph nodes than as exported', () => {
    expect(optimized.info.graphOptimization).toMatch(/^frozen, \d+ oneDNN linear layers$/);
    expect(asExported.info.graphOptimization).toBe('as exported (optimizeGraph is off)');
    expect(optimized.info.graphNodes).toBeGreaterThan(0);
    expect(optimized.info.graphNodes).toBeLessThan(asExported.info.graphNodes);
  });

  test('gives transformers greedy tokens either way (float32)', async () => {
    for (const prompt of expected.prompts) {
      const frozen = await optimized.complete(prompt.prompt_ids, { maxTokens: expected.max_new_tokens });
      const plain = await asExported.complete(prompt.prompt_ids, { maxTokens: expected.max_new_tokens });
      expect(frozen.tokenIds, prompt.text).toEqual(prompt.generated_ids);
      expect(plain.tokenIds, prompt.text).toEqual(prompt.generated_ids);
    }
  });
});

describe('int8 models (torch-gen export --quantize int8)', () => {
  const expected = readExpected('llama-kv-int8');
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(fixture('llama-kv-int8'), { device: 'cpu', threads: 1, maxBatch: 4 });
  });
  afterAll(() => model.dispose());

  test('loads on the CPU in float32 and says it is quantized', () => {
    expect(model.info).toMatchObject({ device: 'cpu', dtype: 'float32', quantization: 'int8-dynamic' });
    expect(model.info.graphOptimization).toBe('frozen');
  });

  test('counts the int8 weights inside fbgemm\'s packed layers: more elements, fewer bytes than float32', async () => {
    const float = await loadModel(fixture('llama-kv'), { device: 'cpu', threads: 1 });
    try {
      // The int8 layers also store two range columns each (quantize.py), so a few more elements.
      expect(model.info.parameters).toBeGreaterThan(float.info.parameters);
      expect(model.info.parameters).toBeLessThan(float.info.parameters * 1.1);
      expect(model.stats().weightBytes).toBeLessThan(float.stats().weightBytes * 0.6);
    } finally {
      await float.dispose();
    }
  });

  test('the addon runs the exported int8 kernels to the same greedy tokens as the module in Python', async () => {
    for (const prompt of expected.prompts) {
      const result = await model.complete(prompt.prompt_ids, { maxTokens: expected.max_new_tokens });
      expect(result.tokenIds, prompt.text).toEqual(prompt.generated_ids);
    }
  });

  // fbgemm quantizes each call's input with one range; quantize.py pins every row's range so that a row
  // computes the same alone or beside others (the seeded-sampling promise holds for int8 models too).
  test('greedy tokens are the same when the prompts decode together in one batch', async () => {
    const results = await Promise.all(expected.prompts.map((p) => model.complete(p.prompt_ids, { maxTokens: expected.max_new_tokens })));
    results.forEach((result, i) => expect(result.tokenIds, expected.prompts[i]!.text).toEqual(expected.prompts[i]!.generated_ids));
  });

  test('a GPU or a half-precision dtype is refused with an OptionError that says why', async () => {
    await expect(loadModel(fixture('llama-kv-int8'), { device: 'cuda' })).rejects.toThrow(
      expect.objectContaining({
        name: 'OptionError',
        option: 'device',
        message: "device: expected 'cpu' or 'auto' for an int8 model (its torch-gen.json has `quantization`), received \"cuda\"",
      }),
    );
    await expect(loadModel(fixture('llama-kv-int8'), { device: 'cpu', dtype: 'bfloat16' })).rejects.toThrow(
      "dtype: expected 'float32' or 'auto' for an int8 model (its activations are float32), received \"bfloat16\"",
    );
  });
});
