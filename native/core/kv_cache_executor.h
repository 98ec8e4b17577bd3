// The executor of the `kv-cache` interface: it owns the KV cache's slots, the decode step's CUDA graphs
// and the prefix cache's block storage, and runs the module's forward over consecutive slots.
#pragma once

#include <memory>

#include "executor.h"

namespace torchgen {

class DecodeGraphs;
class DeviceTokens;
class KvCache;
class PrefixStorage;

class KvCacheExecutor final : public Executor {
 public:
  // Allocates the cache, captures the graphs (CUDA, when the spec asks) and allocates the prefix storage
  // (the spec's prefix_cache_bytes, in blocks of block_tokens positions).
  KvCacheExecutor(Model& model, int64_t block_tokens);
  ~KvCacheExecutor() override;

  at::Tensor Prefill(int64_t first_slot, const std::vector<std::vector<int64_t>>& chunks,
                     const std::vector<int64_t>& starts) override;
  at::Tensor Decode(int64_t first_slot, const std::vector<int64_t>& tokens,
                    const std::vector<int64_t>& positions) override;
  // The argmax is taken on the device into the step's token buffer (by the graph, on a GPU with graphs),
  // where the next step finds its input if every row went on with its argmax in the same slot.
  GreedyDecode DecodeGreedy(int64_t first_slot, const std::vector<int64_t>& tokens,
                            const std::vector<int64_t>& positions) override;
  void MoveSlot(int64_t from, int64_t to, int64_t length) override;
  void SwapSlots(int64_t a, int64_t length_a, int64_t b, int64_t length_b) override;
  bool ChunkedPrefill() const override { return true; }
  int64_t PrefixCapacity() const override;
  void SaveBlock(int64_t slot, int64_t start, int64_t block) override;
  void LoadBlocks(const std::vector<int64_t>& blocks, int64_t slot) override;
  ExecutorStats Stats() const override;

 private:
  // The decode forward; `by_graph` says whether a CUDA graph ran it (its argmax is then computed already).
  at::Tensor Step(int64_t first_slot, const std::vector<int64_t>& tokens, const std::vector<int64_t>& positions,
                  bool& by_graph);

  Model& model_;
  std::unique_ptr<KvCache> cache_;
  std::unique_ptr<DecodeGraphs> graphs_;     // CUDA with graphs enabled only
  std::unique_ptr<DeviceTokens> tokens_;     // the eager decode step's input
  std::unique_ptr<PrefixStorage> prefixes_;  // null when prefix caching is off
};

}  // namespace torchgen
