#include "kv_cache.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <fstream>
#include <string>

#include "failure.h"

namespace torchgen {
namespace {

// MemAvailable from /proc/meminfo, in bytes: what the kernel can give without swapping. -1 if unknown.
int64_t AvailableHostMemory() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return -1;
}

std::string Mib(double bytes) { return std::to_string(static_cast<int64_t>(bytes / (1 << 20))) + " MiB"; }

}  // namespace

KvCache::KvCache(const KvCacheShape& shape, c10::ScalarType dtype, c10::Device device) : shape_(shape) {
  const std::vector<int64_t> sizes = {shape.layers, shape.slots, shape.kv_heads, shape.max_context, shape.head_dim};
  const auto options = at::TensorOptions().dtype(dtype).device(device);
  const double wanted = 2.0 * static_cast<double>(shape.layers * shape.slots * shape.kv_heads * shape.max_context *
                                                  shape.head_dim) *
                        static_cast<double>(c10::elementSize(dtype));
  // On the CPU a too-large allocation does not fail: Linux overcommits, and zeroing the pages then gets
  // the whole process killed. So ask first.
  const int64_t available = device.is_cpu() ? AvailableHostMemory() : -1;
  if (available >= 0 && wanted > 0.9 * static_cast<double>(available)) {
    throw TorchGenError(codes::kOutOfMemory, "the KV cache needs " + Mib(wanted) + " (" + std::to_string(shape.slots) +
                                                 " slots of " + std::to_string(shape.max_context) +
                                                 " tokens) but only " + Mib(static_cast<double>(available)) +
                                                 " of memory is available; lower maxBatch or maxContext");
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

void KvCache::MoveSlot(int64_t from, int64_t to, int64_t length) {
  if (from == to || length <= 0) return;
  for (at::Tensor* pool : {&keys_, &values_}) {
    at::Tensor source = pool->select(1, from).narrow(2, 0, length);  // [L, H_kv, length, D]
    pool->select(1, to).narrow(2, 0, length).copy_(source);
  }
}

int64_t KvCache::bytes() const { return 2 * keys_.numel() * static_cast<int64_t>(keys_.element_size()); }

}  // namespace torchgen
