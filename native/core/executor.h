// What runs the model for the scheduler (scheduler.h): one implementation per model interface. The
// scheduler decides which requests run, in which cache slot, with which tokens; an executor only runs
// what it is handed and keeps each slot's state (a KV cache's slot, or the token sequence the `logits`
// interface recomputes). Engine thread only. Methods that run the model throw on failure.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "device_copy.h"

namespace torchgen {

class Model;

struct ExecutorStats {
  int64_t cache_bytes = 0;            // the slots' KV pool, allocated at load
  int64_t prefix_storage_bytes = 0;   // the prefix cache's block storage, allocated at load
  int64_t cuda_graphs_captured = 0;
  std::string cuda_graphs_off;        // why the decode step runs eagerly on a GPU ('' when graphs are on)
  int64_t device_fed_steps = 0;       // decode steps whose tokens were on the device already (DecodeGreedy)
};

// What a greedy decode step returns.
struct GreedyDecode {
  std::vector<int64_t> ids;  // each row's most likely token (the first on ties), on the host
  at::Tensor logits;         // [rows, V] float32 on the device, valid until the next Decode or DecodeGreedy
};

class Executor {
 public:
  virtual ~Executor() = default;

  // Feeds chunks[i] at positions starts[i], starts[i] + 1, ... into slot first_slot + i (consecutive
  // slots, each holding its positions before starts[i] already). Returns the logits after each row's
  // last token: [rows, V] float32 on the model's device.
  virtual at::Tensor Prefill(int64_t first_slot, const std::vector<std::vector<int64_t>>& chunks,
                             const std::vector<int64_t>& starts) = 0;
  // Feeds one token per row, tokens[i] at positions[i] into slot first_slot + i. Returns [rows, V].
  virtual at::Tensor Decode(int64_t first_slot, const std::vector<int64_t>& tokens,
                            const std::vector<int64_t>& positions) = 0;
  // Decode, then each row's argmax, for a step whose rows are all greedy. Only the ids come to the host;
  // an executor may keep them on the device as the next step's input (KvCacheExecutor does). This
  // default picks them from Decode's logits.
  virtual GreedyDecode DecodeGreedy(int64_t first_slot, const std::vector<int64_t>& tokens,
                                    const std::vector<int64_t>& positions);

  // Slot `to` takes the first `length` positions of slot `from` (`from` may be `to`: that clears what
  // lies after `length`). What `from` holds afterwards is unspecified.
  virtual void MoveSlot(int64_t from, int64_t to, int64_t length) = 0;
  // Exchanges the first length_a positions of slot a with the first length_b positions of slot b.
  virtual void SwapSlots(int64_t a, int64_t length_a, int64_t b, int64_t length_b) = 0;

  // Whether a prompt may be fed in chunks over several steps (false: the whole prompt in one call).
  virtual bool ChunkedPrefill() const = 0;

  // Prefix storage: blocks of block_tokens positions each, `PrefixCapacity()` of them (0: the executor
  // keeps none, and prefix caching is off).
  virtual int64_t PrefixCapacity() const = 0;
  // Copies positions [start, start + block_tokens) of `slot` into block `block`.
  virtual void SaveBlock(int64_t slot, int64_t start, int64_t block) = 0;
  // Copies blocks[i] into positions [i * block_tokens, (i + 1) * block_tokens) of `slot`.
  virtual void LoadBlocks(const std::vector<int64_t>& blocks, int64_t slot) = 0;

  virtual ExecutorStats Stats() const = 0;
};

inline GreedyDecode Executor::DecodeGreedy(int64_t first_slot, const std::vector<int64_t>& tokens,
                                           const std::vector<int64_t>& positions) {
  at::Tensor logits = Decode(first_slot, tokens, positions);
  return {DeviceToHost(logits.argmax(-1)), logits};
}

// The executor of `model`'s interface. For the kv-cache interface it allocates the KV pool, captures the
// CUDA graphs (on a GPU) and allocates the spec's prefix_cache_bytes of prefix storage in blocks of
// `block_tokens` positions. Throws TorchGenError (ERR_OUT_OF_MEMORY).
std::unique_ptr<Executor> MakeExecutor(Model& model, int64_t block_tokens);

}  // namespace torchgen
