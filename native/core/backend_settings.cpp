#include "backend_settings.h"

#include <atomic>
#include <cstdlib>
#include <sstream>

#include <ATen/Context.h>
#include <torch/csrc/jit/codegen/fuser/interface.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include "failure.h"

namespace torchgen {
namespace {

// Process-wide like libtorch's own settings: the last load's reading holds for the models loaded after it.
std::atomic<bool> onednn_linear{true};

const char* Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : nullptr;
}

[[noreturn]] void BadOverride(const char* name, const std::string& expected, const std::string& received) {
  throw TorchGenError(codes::kInvalidArgument,
                      std::string(name) + ": expected " + expected + ", received '" + received + "'");
}

void ApplyExecutor(const std::string& executor) {
  if (executor == "profiling" || executor == "simple") {
    torch::jit::getExecutorMode() = true;
    torch::jit::getProfilingMode() = executor == "profiling";
  } else if (executor == "legacy") {
    torch::jit::getExecutorMode() = false;
  } else {
    BadOverride("TORCH_GEN_JIT_EXECUTOR", "profiling, simple or legacy", executor);
  }
}

bool OnOff(const char* name, const std::string& value) {
  if (value == "on") return true;
  if (value == "off") return false;
  BadOverride(name, "on or off", value);
}

void ApplySdpa(const std::string& list) {
  bool flash = false, efficient = false, math = false, cudnn = false;
  std::istringstream items(list);
  std::string item;
  while (std::getline(items, item, ',')) {
    if (item == "flash") flash = true;
    else if (item == "efficient") efficient = true;
    else if (item == "math") math = true;
    else if (item == "cudnn") cudnn = true;
    else BadOverride("TORCH_GEN_SDPA", "a comma list of flash, efficient, math, cudnn", list);
  }
  if (!(flash || efficient || math || cudnn)) BadOverride("TORCH_GEN_SDPA", "at least one backend", list);
  at::Context& context = at::globalContext();
  context.setSDPUseFlash(flash);
  context.setSDPUseMemEfficient(efficient);
  context.setSDPUseMath(math);
  context.setSDPUseCuDNN(cudnn);
}

}  // namespace

void ApplyBackendSettings(const c10::Device& device) {
  if (const char* executor = Env("TORCH_GEN_JIT_EXECUTOR")) ApplyExecutor(executor);
  const char* onednn = Env("TORCH_GEN_ONEDNN_LINEAR");
  const std::string linear = onednn != nullptr ? onednn : "on";
  if (linear != "1" && linear != "0" && linear != "on" && linear != "off") {
    BadOverride("TORCH_GEN_ONEDNN_LINEAR", "on, off, 1 or 0", linear);
  }
  onednn_linear = linear == "on" || linear == "1";
  if (!device.is_cuda()) return;
  const char* fuser = Env("TORCH_GEN_GPU_FUSER");
  torch::jit::overrideCanFuseOnGPU(fuser != nullptr && OnOff("TORCH_GEN_GPU_FUSER", fuser));
  const char* sdpa = Env("TORCH_GEN_SDPA");
  ApplySdpa(sdpa != nullptr ? sdpa : "flash,efficient,math");
}

BackendSettings CurrentBackendSettings() {
  BackendSettings settings;
  settings.executor = !torch::jit::getExecutorMode()   ? "legacy"
                      : torch::jit::getProfilingMode() ? "profiling"
                                                       : "simple";
  settings.gpu_fuser = torch::jit::canFuseOnGPU();
  settings.cpu_fuser = torch::jit::canFuseOnCPU();
  const at::Context& context = at::globalContext();
  // libtorch's own order of preference on CUDA.
  if (context.userEnabledCuDNNSDP()) settings.sdpa.push_back("cudnn");
  if (context.userEnabledFlashSDP()) settings.sdpa.push_back("flash");
  if (context.userEnabledMemEfficientSDP()) settings.sdpa.push_back("efficient");
  if (context.userEnabledMathSDP()) settings.sdpa.push_back("math");
  settings.onednn_linear = onednn_linear;
  settings.onednn_isa_cap = CurrentOneDnnIsaCap();
  return settings;
}

bool OneDnnLinearEnabled() { return onednn_linear; }

}  // namespace torchgen
