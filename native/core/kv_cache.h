// The runtime-owned KV cache: one pool of slots allocated once on the model's device. Requests being
// generated occupy slots 0..n-1, packed, so a decode step runs on the view [:, 0:n] without a gather.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

namespace torchgen {

struct KvCacheShape {
  int64_t layers = 0;
  int64_t slots = 0;
  int64_t kv_heads = 0;
  int64_t max_context = 0;
  int64_t head_dim = 0;
};

class KvCache {
 public:
  // Allocates keys and values of [layers, slots, kv_heads, max_context, head_dim]. Throws TorchGenError
  // (ERR_OUT_OF_MEMORY) with the size it wanted when the device cannot hold it.
  KvCache(const KvCacheShape& shape, c10::ScalarType dtype, c10::Device device);

  // Views of slots [first, first + count): what the module's forward writes into.
  at::Tensor Keys(int64_t first, int64_t count) const { return keys_.narrow(1, first, count); }
  at::Tensor Values(int64_t first, int64_t count) const { return values_.narrow(1, first, count); }

  // Zeros every slot.
  void Clear();

  // Records that a forward wrote positions below `end` of slots [first, first + count).
  void NoteWritten(int64_t first, int64_t count, int64_t end);

  // Makes slot `to` hold the first `length` positions of slot `from` (keeps active slots packed; `from`
  // may be `to`) and zeros after them. A decode step attends over more positions than a short row holds
  // (the batch's longest row, or a CUDA graph's bucket) and masks the rest, but a masked inf or NaN that an
  // earlier request left there still turns the softmax-weighted sum into NaN.
  void MoveSlot(int64_t from, int64_t to, int64_t length);

  // Exchanges the first length_a positions of slot a with the first length_b positions of slot b (through
  // a copy of the shorter), clearing after them as MoveSlot does.
  void SwapSlots(int64_t a, int64_t length_a, int64_t b, int64_t length_b);

  const KvCacheShape& shape() const { return shape_; }
  int64_t bytes() const;

 private:
  KvCacheShape shape_;
  at::Tensor keys_;    // [L, S, H_kv, T_max, D]
  at::Tensor values_;  // [L, S, H_kv, T_max, D]
  // Per slot: positions at and after this hold zeros (what MoveSlot has to clear, and no more).
  std::vector<int64_t> written_;
};

}  // namespace torchgen
