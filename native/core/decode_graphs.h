// The decode step as CUDA graphs. A small model's decode step is hundreds of kernel launches that cost
// more than the kernels themselves; a graph captured once replays them all with one launch.
//
// One graph per (batch size, cache-length bucket): a graph's shapes are fixed, so the step attends over a
// bucket of cache positions (a power of two, at least 256) rather than exactly the rows' lengths, which is
// correct because the module masks keys by position. The graphs read their inputs from static buffers and
// write the logits to a static buffer; they share one memory pool for their intermediates, which is safe
// because no graph keeps anything there between replays.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <ATen/core/Tensor.h>

namespace torchgen {

class KvCache;
class Model;

class DecodeGraphs {
 public:
  // For `model`'s decode step over `cache` (both outlive this). Allocates the static buffers on the
  // model's device; captures nothing until Forward needs it.
  DecodeGraphs(Model& model, KvCache& cache);
  ~DecodeGraphs();
  DecodeGraphs(const DecodeGraphs&) = delete;
  DecodeGraphs& operator=(const DecodeGraphs&) = delete;

  // The decode step for cache slots 0..B-1: tokens and positions [B, 1] int64 on the device, attending to
  // at least kv_len positions. Returns the logits [B, V] float32, valid until the next call, or an
  // undefined tensor when graphs are off (the caller then runs the step eagerly). A capture that fails
  // turns graphs off for good, with the reason in disabled_reason(). Engine thread only.
  at::Tensor Forward(const at::Tensor& tokens, const at::Tensor& positions, int64_t kv_len);

  int64_t captured() const;
  // Why graphs are off; empty while they are on.
  std::string disabled_reason() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The cache length a decode step with `kv_len` positions is captured for.
int64_t GraphKvBucket(int64_t kv_len, int64_t max_context);

}  // namespace torchgen
