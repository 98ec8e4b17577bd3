// Peak GPU memory of this process from nvidia-smi, for builds whose model.stats() does not report
// devicePeakBytes yet. Two samplers run every 200 ms while a case runs: the per-process figure (which
// includes the CUDA context, ~0.5 GiB) and the device-wide one minus the reading taken before the model was
// loaded (used when the process is not listed, as in containers whose pid namespace differs).
import { execFileSync, spawn } from 'node:child_process';

const INTERVAL_MS = '200';

/** The nvidia-smi index of a torch device string, through CUDA_VISIBLE_DEVICES when that lists indices. */
export function nvidiaSmiIndex(device) {
  const ordinal = Number(device.split(':')[1] ?? 0);
  const visible = (process.env.CUDA_VISIBLE_DEVICES ?? '').split(',').filter((s) => /^\d+$/.test(s.trim()));
  return visible.length > ordinal ? Number(visible[ordinal]) : ordinal;
}

/** Device-wide used memory in bytes now, or null when nvidia-smi does not answer. */
export function deviceUsedBytes(index) {
  try {
    const out = execFileSync('nvidia-smi', ['-i', String(index), '--query-gpu=memory.used', '--format=csv,noheader,nounits'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return Number(out.trim().split('\n')[0]) * 2 ** 20;
  } catch {
    return null;
  }
}

export class GpuMemorySampler {
  #children = [];
  #processPeak = null;
  #devicePeak = null;
  #baseline;
  #index;

  /** `baselineBytes`: deviceUsedBytes() read before the model was loaded. */
  constructor(index, baselineBytes) {
    this.#index = index;
    this.#baseline = baselineBytes;
  }

  start() {
    const perProcess = ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits', '-lms', INTERVAL_MS];
    const device = ['-i', String(this.#index), '--query-gpu=memory.used', '--format=csv,noheader,nounits', '-lms', INTERVAL_MS];
    this.#watch(perProcess, (line) => {
      const [pid, mib] = line.split(',').map((s) => Number(s.trim()));
      if (pid === process.pid) this.#processPeak = Math.max(this.#processPeak ?? 0, mib * 2 ** 20);
    });
    this.#watch(device, (line) => {
      const mib = Number(line.trim());
      if (Number.isFinite(mib)) this.#devicePeak = Math.max(this.#devicePeak ?? 0, mib * 2 ** 20);
    });
    return this;
  }

  /** Stops sampling; returns { peakBytes, method } (peakBytes null when nvidia-smi gave nothing). */
  stop() {
    for (const child of this.#children) child.kill();
    this.#children = [];
    if (this.#processPeak !== null) {
      return { peakBytes: this.#processPeak, method: 'nvidia-smi used_memory of this process, sampled every 200 ms (includes the CUDA context)' };
    }
    if (this.#devicePeak !== null && this.#baseline !== null) {
      return {
        peakBytes: this.#devicePeak - this.#baseline,
        method: 'nvidia-smi device memory.used minus the reading before load, sampled every 200 ms (includes the CUDA context; other processes would count too)',
      };
    }
    return { peakBytes: null, method: 'nvidia-smi gave no reading' };
  }

  #watch(args, onLine) {
    const child = spawn('nvidia-smi', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    child.on('error', () => {}); // no nvidia-smi: stop() reports that no reading came
    let partial = '';
    child.stdout.on('data', (data) => {
      const lines = (partial + data.toString('utf8')).split('\n');
      partial = lines.pop();
      for (const line of lines) if (line.trim()) onLine(line);
    });
    this.#children.push(child);
  }
}
