#include "kv_cache.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "failure.h"

namespace torchgen {

KvCache::KvCache(const KvCacheShape& shape, c10::ScalarType dtype, c10::Device device) : shape_(shape) {
  const std::vector<int64_t> sizes = {shape.layers, shape.slots, shape.kv_heads, shape.max_context, shape.head_dim};
  const auto options = at::TensorOptions().dtype(dtype).device(device);
  try {
    keys_ = at::zeros(sizes, options);
    values_ = at::zeros(sizes, options);
  } catch (const c10::Error& error) {
    const int64_t elements = shape.layers * shape.slots * shape.kv_heads * shape.max_context * shape.head_dim;
    const double mib = 2.0 * static_cast<double>(elements) * static_cast<double>(c10::elementSize(dtype)) / (1 << 20);
    throw TorchGenError(codes::kOutOfMemory, "allocating the KV cache (" + std::to_string(static_cast<int64_t>(mib)) +
                                                 " MiB for " + std::to_string(shape.slots) + " slots of " +
                                                 std::to_string(shape.max_context) + " tokens) failed: " +
                                                 error.what_without_backtrace() +
                                                 "; lower maxBatch or maxContext");
  }
}

void KvCache::MoveSlot(int64_t from, int64_t to, int64_t length) {
  if (from == to || length <= 0) return;
  for (at::Tensor* pool : {&keys_, &values_}) {
    at::Tensor source = pool->select(1, from).narrow(2, 0, length);  // [L, H_kv, length, D]
    pool->select(1, to).narrow(2, 0, length).copy_(source);
  }
}

int64_t KvCache::bytes() const { return 2 * keys_.numel() * static_cast<int64_t>(keys_.element_size()); }

}  // namespace torchgen
