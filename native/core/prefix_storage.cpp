#include "prefix_storage.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "device_memory.h"
#include "failure.h"
#include "kv_cache.h"

namespace torchgen {

PrefixStorage::PrefixStorage(const KvCache& cache, int64_t bytes, int64_t block_tokens)
    : block_tokens_(block_tokens) {
  const KvCacheShape& shape = cache.shape();
  const at::Tensor like = cache.Keys(0, 1);
  const int64_t block_bytes =
      2 * shape.layers * shape.kv_heads * block_tokens * shape.head_dim * static_cast<int64_t>(like.element_size());
  capacity_ = block_bytes > 0 ? bytes / block_bytes : 0;
  if (capacity_ == 0) return;
  const std::vector<int64_t> sizes = {shape.layers, capacity_, shape.kv_heads, block_tokens, shape.head_dim};
  const std::string remedy = "lower prefixCacheMiB, or set it to 0 to turn prefix caching off";
  RequireMemory(like.device(), static_cast<double>(capacity_ * block_bytes), "the prefix cache",
                " (prefixCacheMiB)", remedy);
  try {
    // Zeroed, so the whole budget is committed at load: memory does not creep up as the cache fills.
    keys_ = at::zeros(sizes, like.options());
    values_ = at::zeros(sizes, like.options());
  } catch (const c10::Error& error) {
    throw TorchGenError(codes::kOutOfMemory, "allocating the prefix cache (" + Mib(static_cast<double>(bytes)) +
                                                 ") failed: " + error.what_without_backtrace() + "; " + remedy);
  }
}

int64_t PrefixStorage::bytes() const {
  return keys_.defined() ? 2 * keys_.numel() * static_cast<int64_t>(keys_.element_size()) : 0;
}

void PrefixStorage::Save(const KvCache& cache, int64_t slot, int64_t start, int64_t block) {
  keys_.select(1, block).copy_(cache.Keys(slot, 1).select(1, 0).narrow(2, start, block_tokens_));
  values_.select(1, block).copy_(cache.Values(slot, 1).select(1, 0).narrow(2, start, block_tokens_));
}

void PrefixStorage::Load(KvCache& cache, const std::vector<int64_t>& blocks, int64_t slot) const {
  if (blocks.empty()) return;
  const auto count = static_cast<int64_t>(blocks.size());
  const at::Tensor ids = at::tensor(blocks, at::TensorOptions().dtype(at::kLong)).to(keys_.device());
  // One gather per pool: [L, n, H, B, D] -> [L, H, n, B, D] -> the slot's first n * B positions.
  for (auto [pool, target] : {std::make_pair(&keys_, cache.Keys(slot, 1)), std::make_pair(&values_, cache.Values(slot, 1))}) {
    const at::Tensor gathered = pool->index_select(1, ids).transpose(1, 2);  // [L, H, n, B, D]
    const auto& s = gathered.sizes();
    target.select(1, 0).narrow(2, 0, count * block_tokens_).copy_(gathered.reshape({s[0], s[1], count * block_tokens_, s[4]}));
  }
  cache.NoteWritten(slot, 1, count * block_tokens_);
}

}  // namespace torchgen
