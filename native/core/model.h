// A loaded causal LM on its device: a TorchScript module, or an AOTInductor package (aoti_forward.h) behind
// the same calls. Owned and used by one engine thread after loading.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/script.h>

#include "aoti_forward.h"
#include "kv_cache.h"
#include "model_spec.h"

namespace torchgen {

class Model {
 public:
  // Loads model.pt (or an AOTInductor model.pt2, spec.module_format) onto the spec's device in the spec's dtype and checks, with one small forward, that
  // it is the causal LM the manifest describes. Throws TorchGenError (ERR_DEVICE, ERR_MODEL_LOAD).
  static std::unique_ptr<Model> Load(const ModelSpec& spec);

  // `logits` interface: the next-token logits after `sequence`, recomputing the whole sequence.
  // Returns [V] float32 on the model's device.
  at::Tensor NextTokenLogits(const std::vector<int64_t>& sequence);

  // `kv-cache` interface: runs tokens [B, T] at positions [B, T] (int64, on the model's device) for the
  // requests in cache slots [first_slot, first_slot + B), writing their keys and values into the cache,
  // attending to cache positions [0, kv_len). Returns the last position's logits, [B, V] float32.
  at::Tensor ForwardWithCache(const at::Tensor& tokens, const at::Tensor& positions, KvCache& cache,
                              int64_t first_slot, int64_t kv_len);

  // Allocates the cache pool this model's spec asks for (max_batch slots of max_context tokens).
  std::unique_ptr<KvCache> AllocateCache() const;

  const ModelSpec& spec() const { return spec_; }
  const c10::Device& device() const { return device_; }
  // Elements of the module's parameters (a tied embedding counts once), and the bytes of its parameters
  // and buffers on the device.
  int64_t parameter_count() const { return parameter_count_; }
  int64_t weight_bytes() const { return weight_bytes_; }
  // The forward graph's node count and how it was prepared (inference_graph.h).
  int64_t graph_nodes() const { return graph_nodes_; }
  const std::string& graph_optimization() const { return graph_optimization_; }

 private:
  Model(ModelSpec spec, torch::jit::Module module, c10::Device device, c10::ScalarType dtype);
  Model(ModelSpec spec, std::unique_ptr<AotiForward> aoti, c10::Device device, c10::ScalarType dtype);

  static std::unique_ptr<Model> LoadAoti(const ModelSpec& spec, const c10::Device& device, c10::ScalarType dtype);

  // Runs forward on tokens [B, T] and returns the logits [B, T, V], checking what the module returned.
  at::Tensor ForwardLogits(const at::Tensor& tokens);

  // Runs one tiny forward of the manifest's interface and checks the result's shape and dtype.
  void Probe();

  ModelSpec spec_;
  torch::jit::Module module_;  // unused when aoti_ is set
  std::unique_ptr<AotiForward> aoti_;
  c10::Device device_;
  c10::ScalarType dtype_;
  int64_t parameter_count_ = 0;
  int64_t weight_bytes_ = 0;
  int64_t graph_nodes_ = 0;
  std::string graph_optimization_;
};

// Parses "cpu", "cuda", "cuda:N" and checks that the device exists. Throws TorchGenError(ERR_DEVICE).
c10::Device ResolveDevice(const std::string& device);

// Parses "float32", "float16", "bfloat16". Throws TorchGenError(ERR_INVALID_ARGUMENT).
c10::ScalarType ResolveDtype(const std::string& dtype);

}  // namespace torchgen
