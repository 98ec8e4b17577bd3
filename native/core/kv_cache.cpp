#include "kv_cache.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <string>

#include "device_memory.h"
#include "failure.h"

namespace torchgen {
namespace {

std::string Mib(double bytes) { return std::to_string(static_cast<int64_t>(bytes / (1 << 20))) + " MiB"; }

}  // namespace

KvCache::KvCache(const KvCacheShape& shape, c10::ScalarType dtype, c10::Device device)
    : shape_(shape), written_(static_cast<size_t>(shape.slots), 0) {
  const std::vector<int64_t> sizes = {shape.layers, shape.slots, shape.kv_heads, shape.max_context, shape.head_dim};
  const auto options = at::TensorOptions().dtype(dtype).device(device);
  const double wanted = 2.0 * static_cast<double>(shape.layers * shape.slots * shape.kv_heads * shape.max_context *
                                                  shape.head_dim) *
                        static_cast<double>(c10::elementSize(dtype));
  // On the CPU a too-large allocation does not fail: Linux overcommits, and zeroing the pages then gets
  // the whole process killed. On a GPU it fails cleanly, but a cache that takes the last free memory leaves
  // none for the forward's activations, and the first request fails instead of the load. So ask first.
  const int64_t available = AvailableMemory(device);
  if (available >= 0 && wanted > 0.9 * static_cast<double>(available)) {
    throw TorchGenError(codes::kOutOfMemory, "the KV cache needs " + Mib(wanted) + " (" + std::to_string(shape.slots) +
                                                 " slots of " + std::to_string(shape.max_context) +
                                                 " tokens) but only " + Mib(static_cast<double>(available)) +
                                                 " of memory is available on " + device.str() +
                                                 "; lower maxBatch or maxContext");
  }
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

int64_t KvCache::bytes() const { return 2 * keys_.numel() * static_cast<int64_t>(keys_.element_size()); }

}  // namespace torchgen
