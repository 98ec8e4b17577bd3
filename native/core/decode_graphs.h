// The decode step as CUDA graphs. A small model's decode step is hundreds of kernel launches that cost
// more than the kernels themselves; a graph captured once replays them all with one launch.
//
// One graph per (batch size, cache-length bucket), all captured at load: a graph's shapes are fixed, so the step attends over a
// bucket of cache positions (a power of two, at least 256) rather than exactly the rows' lengths, which is
// correct because the module masks keys by position. The graphs read their inputs from static buffers and
// write the logits to a static buffer, and each row's argmax into the token buffer they read (device_tokens.h:
// a greedy batch's next step finds its input there, and only the ids travel to the host). They share one
// memory pool for their intermediates, which is safe because no graph keeps anything there between replays.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace torchgen {

class KvCache;
class Model;

class DecodeGraphs {
 public:
  // For `model`'s decode step over `cache` (both outlive this), in graphs for `batch_sizes` (each at most
  // the cache's slots). Allocates the static buffers on the model's device; captures nothing yet.
  DecodeGraphs(Model& model, KvCache& cache, std::vector<int64_t> batch_sizes);
  ~DecodeGraphs();
  DecodeGraphs(const DecodeGraphs&) = delete;
  DecodeGraphs& operator=(const DecodeGraphs&) = delete;

  // Captures every graph: each batch size with each cache-length bucket up to the cache's context, so that
  // serving never stops to capture. A capture that fails turns graphs off for good, with the reason in
  // disabled_reason(). Zeros the cache after (the warm-ups wrote into it). Call once, at load.
  void CaptureAll();

  // The decode step for cache slots 0..B-1: `tokens` (B of them, copied to the device only when the token
  // buffer does not hold them already) and positions [B, 1] int64 on the device, attending to at least kv_len
  // positions, by the graph of the smallest batch size >= B (the rows after B pad it, in free slots).
  // Returns the logits [B, V] float32, valid until the next call, or an undefined tensor when no graph fits
  // or graphs are off (the caller then runs the step eagerly). Engine thread only.
  at::Tensor Forward(const std::vector<int64_t>& tokens, const at::Tensor& positions, int64_t kv_len);
  // After a Forward that returned logits: each of its B rows' argmax, which the graph computed, copied to
  // the host; the next Forward of the same tokens then copies nothing in. Engine thread only.
  std::vector<int64_t> ReadArgmax(int64_t batch);
  // Forward() calls whose tokens were on the device already. Any thread.
  int64_t inputs_reused() const;

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
