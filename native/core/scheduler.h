// The scheduling half of the engine: the queue, admission, cancellation, cache slots, prefix matching and
// the finish rules. Each Step() schedules (ends what was cancelled, admits queued requests into free
// slots starting from their longest cached prefix), executes (one prefill forward for the rows still
// feeding their prompts, one decode forward for the rest, through the Executor) and updates (samples,
// applies the finish rules, frees slots, publishes computed prefixes). It never touches the model itself,
// so it is tested with a fake executor (native/tests).
//
// Slots: rows_[i] lives in cache slot i. The decoding rows come first, [0, decoding_), and the rows being
// prefilled after them, [decoding_, rows_.size()): each group is one forward over consecutive slots. A row
// that finishes its prompt is swapped to the front of the prefill group and joins the decoding group.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_set>
#include <vector>

#include "constraint_masks.h"
#include "engine_events.h"
#include "executor.h"
#include "failure.h"
#include "model_spec.h"
#include "prefix_cache.h"
#include "sampler.h"

namespace torchgen {

struct SchedulerStats {
  int64_t active = 0;            // requests holding a cache slot (decoding or being prefilled)
  int64_t queued = 0;            // requests waiting for a slot
  int64_t tokens_generated = 0;  // since load
  int64_t prompt_tokens = 0;     // prefilled since load (what came from the prefix cache not included)
  int64_t requests_finished = 0; // ended for any reason since load
  PrefixCacheStats prefix;       // all zeros when prefix caching is off
};

class Scheduler {
 public:
  // block_tokens: the prefix cache's block size; the cache is on when the executor has prefix storage.
  Scheduler(const ModelSpec& spec, Executor& executor, int64_t block_tokens);

  // Any thread. The gate for what protects memory (a prompt that is not empty, ids < vocab, a prompt within
  // the context) and the queue's bound. Throws TorchGenError (ERR_INVALID_ARGUMENT, ERR_CONTEXT_LENGTH,
  // ERR_QUEUE_FULL, ERR_DISPOSED, or the lost device's code); never blocks on model work.
  void Submit(GenerationRequest request);
  // Any thread. Ends the request with FinishReason::kAbort at the next step; unknown ids are ignored.
  void Cancel(uint64_t request_id);
  // Any thread. Makes WaitForWork return false; Submit refuses from now on.
  void Stop();
  SchedulerStats Stats() const;

  // Engine thread. Blocks until there is something to do; false once stopped.
  bool WaitForWork();
  // Engine thread. One schedule -> execute -> update round; returns its events. `early`, when given, gets
  // the events of the prefill (first tokens, prompts that failed) before the decode forward runs, so a
  // new request's first token does not wait for the whole batch's step.
  std::vector<TokenEvent> Step(const EventSink& early = nullptr);
  // Engine thread. Ends every queued and running request with an abort.
  std::vector<TokenEvent> Shutdown();

 private:
  struct Sequence {
    GenerationRequest request;
    std::vector<int64_t> generated;  // sampled so far (penalties, stop rules, the prefix it publishes)
    int64_t cached = 0;              // positions of this request already in its slot
  };
  struct Admission {
    GenerationRequest request;
    std::vector<int64_t> blocks;  // cached prefix blocks it starts from
  };

  void EndCancelled(std::vector<TokenEvent>& events);
  void Admit(std::vector<TokenEvent>& events);
  // Whether a queued prompt, which finds `matched` tokens cached, should wait for a prompt being prefilled
  // (or admitted in this round, `admitted`) that will soon cache more of it.
  bool WaitsForPrefill(const std::vector<int64_t>& prompt, int64_t matched,
                       const std::vector<Admission>& admitted) const;
  void Prefill(std::vector<TokenEvent>& events);
  void Decode(std::vector<TokenEvent>& events);

  // Samples one token per row from logits [B, V], within each constrained row's allowed tokens
  // (constraint_masks.h).
  std::vector<SampledToken> Sample(const at::Tensor& logits, const std::vector<Sequence*>& rows);
  // The decode forward for `rows` in slots first_slot.. and their next tokens. When every row takes its
  // argmax (PicksArgmax), the executor picks them on the device (Executor::DecodeGreedy) and only the ids
  // come back; a constrained row whose argmax its grammar refuses sends the step through Sample.
  std::vector<SampledToken> DecodeRows(int64_t first_slot, const std::vector<int64_t>& tokens,
                                       const std::vector<int64_t>& positions, const std::vector<Sequence*>& rows);
  // Constrained decoding: starts computing the rows' masks, to overlap the forward pass that follows.
  void BeginMasks(const std::vector<Sequence*>& rows);
  static std::vector<std::shared_ptr<Constraint>> ConstraintsOf(const std::vector<Sequence*>& rows);
  // Records a sampled token, emits it, and says whether the request is finished.
  bool Accept(Sequence& sequence, SampledToken token, std::vector<TokenEvent>& events);
  void Emit(TokenEvent event, std::vector<TokenEvent>& events);

  // Keeps the whole blocks of what `slot` holds in the prefix cache. Best effort: a copy that fails
  // leaves the block out.
  void Publish(int64_t slot, bool with_generated);
  // Frees `slot` (publishing its prefix first when `publish`), keeping both groups packed.
  void RemoveRow(int64_t slot, bool publish);
  // Moves the row in slot `from` to slot `to` (which must be free).
  void MoveRow(int64_t from, int64_t to);
  // The row in `slot` (a prefill row whose prompt is in) joins the decoding group.
  void Promote(int64_t slot);
  int64_t SlotOf(const Sequence* sequence) const;

  // Ends every queued and running request: with an abort, or with `failure` when it is given.
  void EndAll(std::vector<TokenEvent>& events, const Failure* failure = nullptr);
  // Whether `failure` lost the device; if so the scheduler is dead from now on (see lost_), and `failure`
  // is reworded to say so.
  bool LoseDevice(Failure& failure);
  bool IsLost() const;
  void PublishStats();

  const ModelSpec spec_;
  Executor& executor_;
  std::unique_ptr<PrefixCache> prefix_;  // null when prefix caching is off
  std::unique_ptr<ConstraintMasks> masks_;  // constrained decoding's bitmasks, per step

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<GenerationRequest> queue_;     // guarded by mutex_
  std::unordered_set<uint64_t> cancelled_;  // guarded by mutex_
  bool stopping_ = false;                   // guarded by mutex_
  // Set by a sticky CUDA error: every request in flight then fails with it, and Submit refuses new ones.
  std::optional<Failure> lost_;             // guarded by mutex_

  // Engine thread only.
  std::vector<std::unique_ptr<Sequence>> rows_;
  int64_t decoding_ = 0;

  std::atomic<int64_t> active_count_{0};
  std::atomic<int64_t> tokens_generated_{0};
  std::atomic<int64_t> prompt_tokens_{0};
  std::atomic<int64_t> requests_finished_{0};
  PrefixCacheStats prefix_stats_;  // guarded by mutex_: a copy of prefix_->Stats() after each step
};

}  // namespace torchgen
