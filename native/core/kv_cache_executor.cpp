#include "kv_cache_executor.h"

#include <algorithm>

#include "decode_graphs.h"
#include "device_copy.h"
#include "device_tokens.h"
#include "kv_cache.h"
#include "model.h"
#include "prefix_storage.h"

namespace torchgen {

KvCacheExecutor::KvCacheExecutor(Model& model, int64_t block_tokens) : model_(model) {
  cache_ = model_.AllocateCache();
  tokens_ = std::make_unique<DeviceTokens>(cache_->shape().slots, model_.device());
  const ModelSpec& spec = model_.spec();
  if (spec.cuda_graphs && model_.device().is_cuda()) {
    graphs_ = std::make_unique<DecodeGraphs>(model_, *cache_, spec.cuda_graph_batch_sizes);
    graphs_->CaptureAll();
  }
  if (spec.prefix_cache_bytes > 0) {
    prefixes_ = std::make_unique<PrefixStorage>(*cache_, spec.prefix_cache_bytes, block_tokens);
  }
}

KvCacheExecutor::~KvCacheExecutor() = default;

at::Tensor KvCacheExecutor::Prefill(int64_t first_slot, const std::vector<std::vector<int64_t>>& chunks,
                                    const std::vector<int64_t>& starts) {
  const auto rows = static_cast<int64_t>(chunks.size());
  int64_t width = 0;
  for (const auto& chunk : chunks) width = std::max<int64_t>(width, static_cast<int64_t>(chunk.size()));
  const int64_t last_position = cache_->shape().max_context - 1;
  // A row with fewer tokens than the widest is padded at the front, so every row's last token is the
  // forward's last position (whose logits the module returns). The padding sits at the positions after
  // the row's tokens: it writes keys there that the row's own tokens overwrite before anything attends
  // to them, and the mask (causal by position) hides it from the row's real tokens.
  std::vector<int64_t> tokens(static_cast<size_t>(rows * width));
  std::vector<int64_t> positions(static_cast<size_t>(rows * width));
  int64_t kv_len = 0;
  for (int64_t row = 0; row < rows; ++row) {
    const auto count = static_cast<int64_t>(chunks[row].size());
    const int64_t pad = width - count;
    const int64_t end = starts[row] + count;
    for (int64_t i = 0; i < pad; ++i) {
      tokens[row * width + i] = 0;
      positions[row * width + i] = std::min(end + i, last_position);
    }
    for (int64_t i = 0; i < count; ++i) {
      tokens[row * width + pad + i] = chunks[row][i];
      positions[row * width + pad + i] = starts[row] + i;
    }
    // Before the forward: a failed one may have written too.
    cache_->NoteWritten(first_slot + row, 1, std::min(end + pad, last_position + 1));
    kv_len = std::max(kv_len, end);
  }
  const c10::Device device = model_.device();
  return model_.ForwardWithCache(HostToDevice(tokens, {rows, width}, device),
                                 HostToDevice(positions, {rows, width}, device), *cache_, first_slot, kv_len);
}

at::Tensor KvCacheExecutor::Step(int64_t first_slot, const std::vector<int64_t>& tokens,
                                 const std::vector<int64_t>& positions, bool& by_graph) {
  const auto rows = static_cast<int64_t>(tokens.size());
  int64_t kv_len = 0;
  for (int64_t position : positions) kv_len = std::max(kv_len, position + 1);
  at::Tensor position_tensor = HostToDevice(positions, {rows, 1}, model_.device());
  cache_->NoteWritten(first_slot, rows, kv_len);  // before the forward: a failed one may have written too
  at::Tensor logits;  // [B, V]
  // The graphs cover slots from 0 (padding rows go in the slots after the batch).
  if (graphs_ && first_slot == 0) logits = graphs_->Forward(tokens, position_tensor, kv_len);
  by_graph = logits.defined();
  if (!by_graph) {
    logits = model_.ForwardWithCache(tokens_->Feed(tokens), position_tensor, *cache_, first_slot, kv_len);
  }
  return logits;
}

at::Tensor KvCacheExecutor::Decode(int64_t first_slot, const std::vector<int64_t>& tokens,
                                   const std::vector<int64_t>& positions) {
  bool by_graph = false;
  return Step(first_slot, tokens, positions, by_graph);
}

GreedyDecode KvCacheExecutor::DecodeGreedy(int64_t first_slot, const std::vector<int64_t>& tokens,
                                           const std::vector<int64_t>& positions) {
  bool by_graph = false;
  at::Tensor logits = Step(first_slot, tokens, positions, by_graph);
  const auto rows = static_cast<int64_t>(tokens.size());
  if (by_graph) return {graphs_->ReadArgmax(rows), logits};
  tokens_->Forget(rows);
  tokens_->WriteArgmax(logits);
  return {tokens_->Read(rows), logits};
}

void KvCacheExecutor::MoveSlot(int64_t from, int64_t to, int64_t length) { cache_->MoveSlot(from, to, length); }

void KvCacheExecutor::SwapSlots(int64_t a, int64_t length_a, int64_t b, int64_t length_b) {
  cache_->SwapSlots(a, length_a, b, length_b);
}

int64_t KvCacheExecutor::PrefixCapacity() const { return prefixes_ ? prefixes_->capacity() : 0; }

void KvCacheExecutor::SaveBlock(int64_t slot, int64_t start, int64_t block) {
  prefixes_->Save(*cache_, slot, start, block);
}

void KvCacheExecutor::LoadBlocks(const std::vector<int64_t>& blocks, int64_t slot) {
  prefixes_->Load(*cache_, blocks, slot);
}

ExecutorStats KvCacheExecutor::Stats() const {
  ExecutorStats stats;
  stats.cache_bytes = cache_->bytes();
  stats.prefix_storage_bytes = prefixes_ ? prefixes_->bytes() : 0;
  stats.device_fed_steps = tokens_->reused() + (graphs_ ? graphs_->inputs_reused() : 0);
  if (graphs_) {
    stats.cuda_graphs_captured = graphs_->captured();
    stats.cuda_graphs_off = graphs_->disabled_reason();
  } else if (model_.device().is_cuda()) {
    stats.cuda_graphs_off = "turned off by the cudaGraphs option";
  }
  return stats;
}

}  // namespace torchgen
