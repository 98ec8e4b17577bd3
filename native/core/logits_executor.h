// The executor of the `logits` interface: no cache, so a slot's state is its token sequence, and every
// step recomputes the whole sequence (interfaces.py: it exists to measure what the KV cache buys).
#pragma once

#include "executor.h"

namespace torchgen {

class LogitsExecutor final : public Executor {
 public:
  explicit LogitsExecutor(Model& model);

  at::Tensor Prefill(int64_t first_slot, const std::vector<std::vector<int64_t>>& chunks,
                     const std::vector<int64_t>& starts) override;
  at::Tensor Decode(int64_t first_slot, const std::vector<int64_t>& tokens,
                    const std::vector<int64_t>& positions) override;
  void MoveSlot(int64_t from, int64_t to, int64_t length) override;
  void SwapSlots(int64_t a, int64_t length_a, int64_t b, int64_t length_b) override;
  bool ChunkedPrefill() const override { return false; }
  int64_t PrefixCapacity() const override { return 0; }
  void SaveBlock(int64_t, int64_t, int64_t) override {}
  void LoadBlocks(const std::vector<int64_t>&, int64_t) override {}
  ExecutorStats Stats() const override;

 private:
  // Writes `tokens` at positions from `start` of `slot`'s sequence (dropping what followed) and returns the
  // next-token logits after them, [1, V].
  at::Tensor Feed(int64_t slot, const int64_t* tokens, int64_t count, int64_t start);

  Model& model_;
  std::vector<std::vector<int64_t>> sequences_;  // per slot
};

}  // namespace torchgen
