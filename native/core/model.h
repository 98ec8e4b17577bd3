// A loaded TorchScript causal LM on its device. Owned and used by one engine thread after loading.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/script.h>

#include "model_spec.h"

namespace torchgen {

class Model {
 public:
  // Loads model.pt onto the spec's device in the spec's dtype and checks, with one small forward, that
  // it is the causal LM the manifest describes. Throws TorchGenError (ERR_DEVICE, ERR_MODEL_LOAD).
  static std::unique_ptr<Model> Load(const ModelSpec& spec);

  // `logits` interface: the next-token logits after `sequence`, recomputing the whole sequence.
  // Returns [V] float32 on the model's device.
  at::Tensor NextTokenLogits(const std::vector<int64_t>& sequence);

  const ModelSpec& spec() const { return spec_; }
  const c10::Device& device() const { return device_; }

 private:
  Model(ModelSpec spec, torch::jit::Module module, c10::Device device);

  // Runs forward on tokens [B, T] and returns the logits [B, T, V], checking what the module returned.
  at::Tensor ForwardLogits(const at::Tensor& tokens);

  ModelSpec spec_;
  torch::jit::Module module_;
  c10::Device device_;
};

// Parses "cpu", "cuda", "cuda:N" and checks that the device exists. Throws TorchGenError(ERR_DEVICE).
c10::Device ResolveDevice(const std::string& device);

// Parses "float32", "float16", "bfloat16". Throws TorchGenError(ERR_INVALID_ARGUMENT).
c10::ScalarType ResolveDtype(const std::string& dtype);

}  // namespace torchgen
