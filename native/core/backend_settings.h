// The libtorch choices that decide which kernels a TorchScript model runs, made explicit in one place:
// the TorchScript executor, its fuser on the GPU, and the CUDA attention (SDPA) backends. libtorch keeps
// each as a process-wide setting, so they are applied at every model load and hold for every model.
//
// torch-gen's choices: on CUDA the NNC fuser is off (left on, it compiles ~100 NVRTC kernels per shape the
// profiler sees, with float16 rounding that differs between profiled and fused runs) and cuDNN attention
// is off (libtorch picks it first for half precision on Hopper, rebuilds its plan per shape, and upstream
// turned it off for grouped-query decode in graph capture: pytorch/pytorch#167101). The executor and the
// CPU fuser stay as libtorch (or the CPU tuning elsewhere) sets them. On the CPU, the graph optimization
// (inference_graph.h) replaces linear layers by oneDNN's. For diagnosis, each can be forced:
//   TORCH_GEN_JIT_EXECUTOR  = profiling | simple | legacy
//   TORCH_GEN_GPU_FUSER     = on | off
//   TORCH_GEN_SDPA          = a comma list of flash, efficient, math, cudnn (the CUDA backends allowed)
//   TORCH_GEN_ONEDNN_LINEAR = on | off (also 1 | 0): off keeps libtorch's linear on the CPU
#pragma once

#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "onednn_isa.h"

namespace torchgen {

struct BackendSettings {
  std::string executor;           // "profiling", "simple" (profiling off) or "legacy"
  bool gpu_fuser = false;         // TorchScript fuses CUDA ops (NNC)
  bool cpu_fuser = false;         // TorchScript fuses CPU ops
  std::vector<std::string> sdpa;  // CUDA attention backends allowed, in libtorch's order of preference
  bool onednn_linear = true;      // CPU models loaded from now on get oneDNN's linear layers
  OneDnnIsaCap onednn_isa_cap;    // oneDNN's instruction-set cap in this process (onednn_isa.h)
};

// Sets the choices above for a model about to be loaded on `device` (the CUDA ones only for a CUDA
// device, so that loading a CPU model changes nothing). Throws TorchGenError(ERR_INVALID_ARGUMENT) for
// an override it cannot read.
void ApplyBackendSettings(const c10::Device& device);

// What is in effect now.
BackendSettings CurrentBackendSettings();

// Whether the CPU graph optimization may use oneDNN's linear layers (TORCH_GEN_ONEDNN_LINEAR, read by
// ApplyBackendSettings). Any thread.
bool OneDnnLinearEnabled();

}  // namespace torchgen
