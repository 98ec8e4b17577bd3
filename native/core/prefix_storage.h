// The keys and values of cached prompt prefixes (prefix_cache.h decides what each block holds): one pool
// of blocks allocated at load, beside the KV cache's slots, in the cache's dtype on its device. A request
// that starts from cached blocks has them copied into its slot; the model's forward is unchanged.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace torchgen {

class KvCache;

class PrefixStorage {
 public:
  // Room for as many blocks of `block_tokens` positions as fit in `bytes`, shaped after `cache`, zeroed
  // (committed) at once. Throws TorchGenError (ERR_OUT_OF_MEMORY) when the memory is not there.
  PrefixStorage(const KvCache& cache, int64_t bytes, int64_t block_tokens);

  int64_t capacity() const { return capacity_; }
  int64_t bytes() const;

  // Copies positions [start, start + block_tokens) of `slot` into block `block`.
  void Save(const KvCache& cache, int64_t slot, int64_t start, int64_t block);
  // Copies blocks[i] into positions [i * block_tokens, (i + 1) * block_tokens) of `slot`.
  void Load(KvCache& cache, const std::vector<int64_t>& blocks, int64_t slot) const;

 private:
  int64_t block_tokens_;
  int64_t capacity_ = 0;
  at::Tensor keys_;    // [L, N, H_kv, block_tokens, D]
  at::Tensor values_;  // [L, N, H_kv, block_tokens, D]
};

}  // namespace torchgen
