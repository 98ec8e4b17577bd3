import { environmentThreads, physicalCores } from './cpu.js';
import { loadAddon, addonPath, type CpuFeatures, type NativeBackendSettings } from './native.js';
import { defaultThreads } from './options.js';

export type { CpuFeatures, OneDnnIsaCap } from './native.js';

export interface RuntimeInfo {
  /** The libtorch version the addon runs on, e.g. "2.9.1". */
  torchVersion: string;
  /** True when the CUDA build of libtorch is loaded (CUDA can work if a GPU is present). */
  cudaBuild: boolean;
  /** True when a CUDA driver and at least one GPU answer. */
  cudaAvailable: boolean;
  /** The number of CUDA devices, 0 without CUDA. */
  deviceCount: number;
  /** The size of libtorch's CPU thread pool on the calling thread (each model sets its own: `info.threads`). */
  cpuThreads: number;
  /** The physical cores this process may use. */
  cpuCores: number;
  /** The default of the `threads` load option: OMP_NUM_THREADS when the environment sets it, else cpuCores. */
  defaultThreads: number;
  /** Instruction sets libtorch's CPU kernels can use here (bfloat16 and int8 speed depend on them). */
  cpuFeatures: CpuFeatures;
  /** The path of the loaded native addon. */
  addonPath: string;
  /**
   * True when the addon was compiled with the CUDA runtime headers: the decode step can run as CUDA graphs
   * and `model.stats()` reports GPU memory. A CUDA build of libtorch without them still runs models on a
   * GPU, eagerly.
   */
  cudaGraphsBuilt: boolean;
  /**
   * libtorch's process-wide kernel choices as torch-gen set them at the last model load (see
   * native/core/backend_settings.h): the TorchScript executor, whether its fuser runs on the GPU and on the
   * CPU, the CUDA attention backends allowed, and whether CPU models get oneDNN's linear layers. Forced
   * for diagnosis by TORCH_GEN_JIT_EXECUTOR, TORCH_GEN_GPU_FUSER, TORCH_GEN_SDPA and TORCH_GEN_ONEDNN_LINEAR.
   * Also oneDNN's instruction-set cap (`onednnIsaCap`), which the process's first CPU model load fixes: AVX2
   * when that model is float32 TorchScript on AMD Zen 4 (faster there), else ONEDNN_MAX_CPU_ISA's or none.
   */
  backend: BackendSettings;
  /**
   * The grammar engine of constrained decoding (the responseFormat option), e.g. 'llguidance 1.9.1'; null
   * when the addon was built without it (Rust's cargo was not found at build time: install Rust, then
   * `npm run build:native`).
   */
  grammarEngine: string | null;
}

export type BackendSettings = NativeBackendSettings;

/** Facts about the libtorch and devices torch-gen runs on. Loads the addon on first call. */
export function runtimeInfo(): RuntimeInfo {
  const native = loadAddon().runtimeInfo();
  const cores = physicalCores(); // read from /sys once for both fields
  return {
    torchVersion: native.torchVersion,
    cudaBuild: native.cudaBuild,
    cudaAvailable: native.cudaAvailable,
    deviceCount: native.cudaDeviceCount,
    cpuThreads: native.cpuThreads,
    cpuCores: cores,
    defaultThreads: defaultThreads({ cores, environmentThreads: environmentThreads() }),
    cpuFeatures: { ...native.cpuFeatures },
    addonPath: addonPath(),
    cudaGraphsBuilt: native.cudaGraphsBuilt,
    backend: { ...native.backend, sdpa: [...native.backend.sdpa], onednnIsaCap: { ...native.backend.onednnIsaCap } },
    grammarEngine: native.grammarEngine || null,
  };
}
