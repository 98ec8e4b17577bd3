#include "kv_cache.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <string>

#include "device_memory.h"
#include "failure.h"

namespace torchgen {
KvCache::KvCache(const KvCacheShape& shape, c10::ScalarType dtype, c10::Device device)
    : shape_(shape), written_(static_cast<size_t>(shape.slots), 0) {
  const std::vector<int64_t> sizes = {shape.layers, shape.slots, shape.kv_heads, shape.max_context, shape.head_dim};
  const auto options = at::TensorOptions().dtype(dtype).device(device);
  const double wanted = 2.0 * static_cast<double>(shape.layers * shape.slots * shape.kv_heads * shape.max_context *
                                                  shape.head_dim) *
                        static_cast<double>(c10::elementSize(dtype));
  RequireMemory(device, wanted, "the KV cache",
                " (" + std::to_string(shape.slots) + " slots of " + std::to_string(shape.max_context) + " tokens)",
                "lower maxBatch or maxContext");
  try {
    keys_ = at::zeros(sizes, options);
    values_ = at::zeros(sizes, options);
  } catch (const c10::Error& error) {
    throw TorchGenError(codes::kOutOfMemory, "allocating the KV cache (" + Mib(wanted) + " for " +
                                                 std::to_string(shape.slots) + " slots of " +
                                                 std::to_string(shape.max_context) + " tokens) failed: " +
                                                 error.what_without_backtrace() +
                                                 "; lower maxBatch or maxContext");
  }
}

void KvCache::Clear() {
  keys_.zero_();
  values_.zero_();
  std::fill(written_.begin(), written_.end(), 0);
}

void KvCache::NoteWritten(int64_t first, int64_t count, int64_t end) {
  for (int64_t slot = first; slot < first + count; ++slot) written_[slot] = std::max(written_[slot], end);
}

void KvCache::MoveSlot(int64_t from, int64_t to, int64_t length) {
  length = std::max<int64_t>(length, 0);
  for (at::Tensor* pool : {&keys_, &values_}) {
    at::Tensor target = pool->select(1, to);  // [L, H_kv, T_max, D]
    if (from != to && length > 0) target.narrow(2, 0, length).copy_(pool->select(1, from).narrow(2, 0, length));
    if (written_[to] > length) target.narrow(2, length, written_[to] - length).zero_();
  }
  written_[to] = length;
}

void KvCache::SwapSlots(int64_t a, int64_t length_a, int64_t b, int64_t length_b) {
  if (a == b) return;
  if (length_a > length_b) {
    std::swap(a, b);
    std::swap(length_a, length_b);
  }
  // a holds the shorter run: keep it aside, move b's into a, then put it into b.
  length_a = std::max<int64_t>(length_a, 0);
  std::vector<at::Tensor> kept;
  for (at::Tensor* pool : {&keys_, &values_}) kept.push_back(pool->select(1, a).narrow(2, 0, length_a).clone());
  MoveSlot(b, a, length_b);
  for (size_t i = 0; i < kept.size(); ++i) {
    at::Tensor* pool = i == 0 ? &keys_ : &values_;
    at::Tensor target = pool->select(1, b);
    target.narrow(2, 0, length_a).copy_(kept[i]);
    if (written_[b] > length_a) target.narrow(2, length_a, written_[b] - length_a).zero_();
  }
  written_[b] = length_a;
}

int64_t KvCache::bytes() const { return 2 * keys_.numel() * static_cast<int64_t>(keys_.element_size()); }

}  // namespace torchgen
