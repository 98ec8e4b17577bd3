#include "runtime_info.h"

#include <dlfcn.h>

#include <ATen/Parallel.h>
#include <ATen/cpu/Utils.h>
#include <torch/cuda.h>
#include <torch/version.h>

namespace torchgen {

RuntimeInfo QueryRuntimeInfo() {
  RuntimeInfo info;
  info.torch_version = TORCH_VERSION;
  // RTLD_NOLOAD only looks: it tells whether the link kept libtorch_cuda (see CMakeLists.txt).
  void* cuda_library = dlopen("libtorch_cuda.so", RTLD_NOW | RTLD_NOLOAD);
  info.cuda_build = cuda_library != nullptr;
  if (cuda_library != nullptr) dlclose(cuda_library);
  info.cuda_available = torch::cuda::is_available();
  info.cuda_device_count = info.cuda_available ? static_cast<int64_t>(torch::cuda::device_count()) : 0;
  info.cpu_threads = at::get_num_threads();
#ifdef TORCH_GEN_CUDA
  info.cuda_graphs_built = true;
#endif
  info.backend = CurrentBackendSettings();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 11)
  // torch 2.11 (the GPU image's) replaced the is_*_supported functions by one map of cpuinfo's flags.
  const auto capabilities = at::cpu::get_cpu_capabilities();
  const auto has = [&](const char* flag) {
    const auto found = capabilities.find(flag);
    return found != capabilities.end() && found->second.isBool() && found->second.toBool();
  };
  info.cpu_avx2 = has("avx2");
  // What is_avx512_supported() checked: the foundation and the DQ, BW and VL extensions.
  info.cpu_avx512 = has("avx512_f") && has("avx512_dq") && has("avx512_bw") && has("avx512_vl");
  info.cpu_avx512_bf16 = has("avx512_bf16");
  info.cpu_amx = has("amx_tile");
#else
  info.cpu_avx2 = at::cpu::is_avx2_supported();
  info.cpu_avx512 = at::cpu::is_avx512_supported();
  info.cpu_avx512_bf16 = at::cpu::is_avx512_bf16_supported();
  info.cpu_amx = at::cpu::is_amx_tile_supported();
#endif
  info.cpu_avx512_vnni = at::cpu::is_avx512_vnni_supported();
  return info;
}

}  // namespace torchgen
