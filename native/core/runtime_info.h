// Facts about the libtorch the addon runs on, for runtimeInfo().
#pragma once

#include <cstdint>
#include <string>

#include "backend_settings.h"

namespace torchgen {

struct RuntimeInfo {
  std::string torch_version;
  bool cuda_build = false;      // libtorch_cuda is loaded in this process
  bool cuda_available = false;  // ... and a driver and at least one GPU answer
  int64_t cuda_device_count = 0;
  int64_t cpu_threads = 0;      // libtorch's intra-op thread pool size
  // The addon was compiled with the CUDA runtime headers: CUDA graphs and GPU memory statistics work.
  bool cuda_graphs_built = false;
  BackendSettings backend;
  // Instruction sets libtorch's CPU kernels (oneDNN, fbgemm) can use here: bfloat16 runs at bfloat16
  // speed only with avx512_bf16 or AMX; int8 products are fastest with VNNI.
  bool cpu_avx2 = false;
  bool cpu_avx512 = false;
  bool cpu_avx512_vnni = false;
  bool cpu_avx512_bf16 = false;
  bool cpu_amx = false;
};

RuntimeInfo QueryRuntimeInfo();

}  // namespace torchgen
