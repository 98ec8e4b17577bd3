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
};

RuntimeInfo QueryRuntimeInfo();

}  // namespace torchgen
