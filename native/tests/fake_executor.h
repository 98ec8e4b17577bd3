// An executor without a model, for the scheduler's tests. Each slot holds the token ids fed at each
// position (its "keys and values"); the logits after a row's last token make the next token a hash of
// everything the slot holds before it. So a request's tokens equal a reference computed from its prompt
// alone only if the scheduler fed every position of the right slot with the right token: a slot mixed up
// by a move, a swap or a cached block, or a position read before it was written, changes them (the latter
// throws). Prefills and decodes are recorded for the tests to inspect.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "executor.h"

namespace torchgen::testing {

// What the fake's "model" generates after `sequence`.
inline int64_t NextToken(const std::vector<int64_t>& sequence, int64_t vocab) {
  uint64_t hash = 1469598103934665603ULL;
  for (int64_t token : sequence) hash = (hash ^ static_cast<uint64_t>(token + 7)) * 1099511628211ULL;
  return static_cast<int64_t>(hash % static_cast<uint64_t>(vocab));
}

struct PrefillCall {
  int64_t first_slot;
  int64_t rows;
  int64_t width;
  int64_t real_tokens;
};

class FakeExecutor final : public Executor {
 public:
  static constexpr int64_t kUnwritten = -2;  // never fed since the slot was last cleared
  static constexpr int64_t kPadding = -1;    // written by a prefill's padding

  FakeExecutor(int64_t slots, int64_t max_context, int64_t vocab, int64_t prefix_capacity, int64_t block_tokens,
               bool chunked = true)
      : max_context_(max_context), vocab_(vocab), block_tokens_(block_tokens), chunked_(chunked),
        slots_(static_cast<size_t>(slots), std::vector<int64_t>(static_cast<size_t>(max_context), kUnwritten)),
        blocks_(static_cast<size_t>(prefix_capacity)) {}

  // A token that makes any forward feeding it throw, as a bad request would.
  int64_t poison = -100;

  at::Tensor Prefill(int64_t first_slot, const std::vector<std::vector<int64_t>>& chunks,
                     const std::vector<int64_t>& starts) override {
    int64_t width = 0;
    int64_t real = 0;
    for (const auto& chunk : chunks) {
      width = std::max<int64_t>(width, static_cast<int64_t>(chunk.size()));
      real += static_cast<int64_t>(chunk.size());
      for (int64_t token : chunk) {
        if (token == poison) throw std::runtime_error("poisoned token");
      }
    }
    prefills.push_back({first_slot, static_cast<int64_t>(chunks.size()), width, real});
    at::Tensor logits = at::zeros({static_cast<int64_t>(chunks.size()), vocab_});
    for (size_t row = 0; row < chunks.size(); ++row) {
      auto& slot = slots_.at(static_cast<size_t>(first_slot) + row);
      const auto count = static_cast<int64_t>(chunks[row].size());
      for (int64_t i = 0; i < count; ++i) slot.at(starts[row] + i) = chunks[row][i];
      const int64_t end = starts[row] + count;
      for (int64_t i = 0; i < width - count; ++i) slot.at(std::min(end + i, max_context_ - 1)) = kPadding;
      logits[static_cast<int64_t>(row)][Next(slot, end)] = 1.0;
    }
    return logits;
  }

  at::Tensor Decode(int64_t first_slot, const std::vector<int64_t>& tokens,
                    const std::vector<int64_t>& positions) override {
    for (int64_t token : tokens) {
      if (token == poison) throw std::runtime_error("poisoned token");
    }
    decode_batches.push_back(static_cast<int64_t>(tokens.size()));
    at::Tensor logits = at::zeros({static_cast<int64_t>(tokens.size()), vocab_});
    for (size_t row = 0; row < tokens.size(); ++row) {
      auto& slot = slots_.at(static_cast<size_t>(first_slot) + row);
      slot.at(positions[row]) = tokens[row];
      logits[static_cast<int64_t>(row)][Next(slot, positions[row] + 1)] = 1.0;
    }
    return logits;
  }

  // The default (Decode, then the argmax), recording the batch: the scheduler sends only all-greedy
  // steps here.
  GreedyDecode DecodeGreedy(int64_t first_slot, const std::vector<int64_t>& tokens,
                            const std::vector<int64_t>& positions) override {
    greedy_batches.push_back(static_cast<int64_t>(tokens.size()));
    return Executor::DecodeGreedy(first_slot, tokens, positions);
  }

  void MoveSlot(int64_t from, int64_t to, int64_t length) override {
    std::vector<int64_t> moved(static_cast<size_t>(max_context_), kUnwritten);
    std::copy(slots_.at(from).begin(), slots_.at(from).begin() + length, moved.begin());
    slots_.at(to) = std::move(moved);
  }

  void SwapSlots(int64_t a, int64_t length_a, int64_t b, int64_t length_b) override {
    std::vector<int64_t> kept(slots_.at(a).begin(), slots_.at(a).begin() + length_a);
    MoveSlot(b, a, length_b);
    MoveSlot(b, b, 0);
    std::copy(kept.begin(), kept.end(), slots_.at(b).begin());
  }

  bool ChunkedPrefill() const override { return chunked_; }
  int64_t PrefixCapacity() const override { return static_cast<int64_t>(blocks_.size()); }

  void SaveBlock(int64_t slot, int64_t start, int64_t block) override {
    const auto& source = slots_.at(slot);
    for (int64_t i = start; i < start + block_tokens_; ++i) {
      if (source.at(i) < 0) throw std::logic_error("saving a block with an unwritten position");
    }
    blocks_.at(block).assign(source.begin() + start, source.begin() + start + block_tokens_);
    saved_blocks += 1;
  }

  void LoadBlocks(const std::vector<int64_t>& blocks, int64_t slot) override {
    for (size_t i = 0; i < blocks.size(); ++i) {
      const auto& block = blocks_.at(blocks[i]);
      std::copy(block.begin(), block.end(), slots_.at(slot).begin() + static_cast<int64_t>(i) * block_tokens_);
    }
    loaded_blocks += static_cast<int64_t>(blocks.size());
  }

  ExecutorStats Stats() const override { return {}; }

  std::vector<PrefillCall> prefills;
  std::vector<int64_t> decode_batches;  // every decode forward, greedy or not
  std::vector<int64_t> greedy_batches;  // those that came through DecodeGreedy
  int64_t saved_blocks = 0;
  int64_t loaded_blocks = 0;

 private:
  // The next token after positions [0, end) of a slot, which must all hold real tokens.
  int64_t Next(const std::vector<int64_t>& slot, int64_t end) const {
    for (int64_t i = 0; i < end; ++i) {
      if (slot[i] < 0) throw std::logic_error("position " + std::to_string(i) + " read before it was written");
    }
    return NextToken(std::vector<int64_t>(slot.begin(), slot.begin() + end), vocab_);
  }

  int64_t max_context_;
  int64_t vocab_;
  int64_t block_tokens_;
  bool chunked_;
  std::vector<std::vector<int64_t>> slots_;
  std::vector<std::vector<int64_t>> blocks_;
};

}  // namespace torchgen::testing
