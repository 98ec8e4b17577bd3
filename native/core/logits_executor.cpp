#include "logits_executor.h"

#include <ATen/ATen.h>

#include "model.h"

namespace torchgen {

LogitsExecutor::LogitsExecutor(Model& model)
    : model_(model), sequences_(static_cast<size_t>(model.spec().max_batch)) {}

at::Tensor LogitsExecutor::Feed(int64_t slot, const int64_t* tokens, int64_t count, int64_t start) {
  std::vector<int64_t>& sequence = sequences_[slot];
  sequence.resize(static_cast<size_t>(start));
  sequence.insert(sequence.end(), tokens, tokens + count);
  return model_.NextTokenLogits(sequence).unsqueeze(0);
}

at::Tensor LogitsExecutor::Prefill(int64_t first_slot, const std::vector<std::vector<int64_t>>& chunks,
                                   const std::vector<int64_t>& starts) {
  std::vector<at::Tensor> logits;
  for (size_t row = 0; row < chunks.size(); ++row) {
    logits.push_back(Feed(first_slot + static_cast<int64_t>(row), chunks[row].data(),
                          static_cast<int64_t>(chunks[row].size()), starts[row]));
  }
  return at::cat(logits);
}

at::Tensor LogitsExecutor::Decode(int64_t first_slot, const std::vector<int64_t>& tokens,
                                  const std::vector<int64_t>& positions) {
  std::vector<at::Tensor> logits;
  for (size_t row = 0; row < tokens.size(); ++row) {
    logits.push_back(Feed(first_slot + static_cast<int64_t>(row), &tokens[row], 1, positions[row]));
  }
  return at::cat(logits);
}

void LogitsExecutor::MoveSlot(int64_t from, int64_t to, int64_t length) {
  std::vector<int64_t> kept(sequences_[from].begin(),
                            sequences_[from].begin() + std::min<int64_t>(length, sequences_[from].size()));
  sequences_[to] = std::move(kept);
}

void LogitsExecutor::SwapSlots(int64_t a, int64_t length_a, int64_t b, int64_t length_b) {
  std::swap(sequences_[a], sequences_[b]);
  sequences_[a].resize(std::min<size_t>(sequences_[a].size(), static_cast<size_t>(length_b)));
  sequences_[b].resize(std::min<size_t>(sequences_[b].size(), static_cast<size_t>(length_a)));
}

ExecutorStats LogitsExecutor::Stats() const {
  ExecutorStats stats;
  if (model_.device().is_cuda()) stats.cuda_graphs_off = "the logits interface has no decode step";
  return stats;
}

}  // namespace torchgen
