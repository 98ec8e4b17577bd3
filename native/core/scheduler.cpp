#include "scheduler.h"

#include <algorithm>

#include <ATen/ATen.h>

#include "constraint.h"
#include "prefill_plan.h"

namespace torchgen {

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone: return "";
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kAbort: return "abort";
    case FinishReason::kError: return "error";
  }
  return "";
}

namespace {

// Queued requests looked at per step for admission: a bound on the work a step does for a long queue
// whose head waits for a shared prefix.
constexpr int kAdmissionScan = 64;

TokenEvent FinalEvent(uint64_t id, FinishReason reason) { return {id, {}, {}, reason, "", ""}; }

TokenEvent ErrorEvent(uint64_t id, const Failure& failure) {
  return {id, {}, {}, FinishReason::kError, failure.code, failure.message};
}

// Whether Sample would pick the argmax of the row's raw logits: greedy, without the penalties (which change
// the logits) or logprobs (which only the sampler computes). top-k, top-p and min-p keep the most likely
// token, so they do not matter; nor does a constraint that allows it (DecodeRows checks).
bool PicksArgmax(const SamplingParams& params) {
  return params.temperature <= 0 && !params.UsesPenalties() && params.logprobs == 0;
}

int64_t CommonPrefix(const std::vector<int64_t>& a, const std::vector<int64_t>& b, int64_t limit) {
  limit = std::min<int64_t>({limit, static_cast<int64_t>(a.size()), static_cast<int64_t>(b.size())});
  int64_t i = 0;
  while (i < limit && a[i] == b[i]) ++i;
  return i;
}

}  // namespace

Scheduler::Scheduler(const ModelSpec& spec, Executor& executor, int64_t block_tokens)
    : spec_(spec), executor_(executor), masks_(std::make_unique<ConstraintMasks>(spec.vocab_size)) {
  if (executor_.PrefixCapacity() > 0) prefix_ = std::make_unique<PrefixCache>(block_tokens, executor_.PrefixCapacity());
  PublishStats();
}

void Scheduler::Submit(GenerationRequest request) {
  if (request.prompt.empty()) {
    throw TorchGenError(codes::kInvalidArgument, "the prompt has no tokens");
  }
  for (int64_t id : request.prompt) {
    if (id < 0 || id >= spec_.vocab_size) {
      throw TorchGenError(codes::kInvalidArgument, "prompt token id " + std::to_string(id) +
                                                       " is outside the vocabulary [0, " +
                                                       std::to_string(spec_.vocab_size) + ")");
    }
  }
  if (static_cast<int64_t>(request.prompt.size()) >= spec_.max_context) {
    throw TorchGenError(codes::kContextLength, "the prompt has " + std::to_string(request.prompt.size()) +
                                                   " tokens but the model's context holds " +
                                                   std::to_string(spec_.max_context) +
                                                   ", including at least one generated token");
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) throw TorchGenError(codes::kDisposed, "the model has been disposed");
    if (lost_) throw TorchGenError(lost_->code, "the model cannot run any more: " + lost_->message);
    // Every request passes through the queue until the engine thread admits it; those that will find a
    // free slot at once are not waiting, so they do not count against max_queue.
    const int64_t capacity = spec_.max_batch;
    const int64_t pending = static_cast<int64_t>(queue_.size());
    const int64_t free_slots = capacity - active_count_ - pending;
    const int64_t waiting = std::max<int64_t>(0, pending - std::max<int64_t>(0, capacity - active_count_));
    if (free_slots <= 0 && waiting >= spec_.max_queue) {
      throw TorchGenError(codes::kQueueFull, "the queue is full: " + std::to_string(waiting) +
                                                 " requests are waiting for the model's " +
                                                 std::to_string(capacity) +
                                                 " slots; retry later, or raise maxQueue or maxBatch");
    }
    queue_.push_back(std::move(request));
  }
  wake_.notify_one();
}

void Scheduler::Cancel(uint64_t request_id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    cancelled_.insert(request_id);
  }
  wake_.notify_one();
}

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
}

SchedulerStats Scheduler::Stats() const {
  SchedulerStats stats;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stats.queued = static_cast<int64_t>(queue_.size());
    stats.prefix = prefix_stats_;
  }
  stats.active = active_count_;
  stats.tokens_generated = tokens_generated_;
  stats.prompt_tokens = prompt_tokens_;
  stats.requests_finished = requests_finished_;
  return stats;
}

bool Scheduler::WaitForWork() {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait(lock, [this] { return stopping_ || !queue_.empty() || !rows_.empty() || !cancelled_.empty(); });
  return !stopping_;
}

std::vector<TokenEvent> Scheduler::Step(const EventSink& early) {
  std::vector<TokenEvent> events;
  EndCancelled(events);
  if (!IsLost()) Admit(events);
  if (decoding_ < static_cast<int64_t>(rows_.size()) && !IsLost()) Prefill(events);
  if (early && !events.empty() && decoding_ > 0 && !IsLost()) {
    // What JavaScript sees with these events (stats(), the queue's bound) must already include this step.
    active_count_ = static_cast<int64_t>(rows_.size());
    early(std::move(events));
    events.clear();
  }
  if (decoding_ > 0 && !IsLost()) Decode(events);
  if (IsLost()) {
    std::unique_lock<std::mutex> lock(mutex_);
    const Failure lost = *lost_;
    lock.unlock();
    EndAll(events, &lost);
  }
  PublishStats();
  return events;
}

std::vector<TokenEvent> Scheduler::Shutdown() {
  std::vector<TokenEvent> events;
  EndAll(events);
  PublishStats();
  return events;
}

void Scheduler::PublishStats() {
  active_count_ = static_cast<int64_t>(rows_.size());
  std::lock_guard<std::mutex> lock(mutex_);
  if (prefix_) prefix_stats_ = prefix_->Stats();
}

void Scheduler::Emit(TokenEvent event, std::vector<TokenEvent>& events) {
  tokens_generated_ += static_cast<int64_t>(event.token_ids.size());
  if (event.finish != FinishReason::kNone) requests_finished_ += 1;
  events.push_back(std::move(event));
}

void Scheduler::EndCancelled(std::vector<TokenEvent>& events) {
  std::unordered_set<uint64_t> cancelled;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cancelled_.empty()) return;
    cancelled.swap(cancelled_);
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (cancelled.count(it->id) > 0) {
        Emit(FinalEvent(it->id, FinishReason::kAbort), events);
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // Highest slots first: removing a row moves only rows after it.
  for (int64_t slot = static_cast<int64_t>(rows_.size()) - 1; slot >= 0; --slot) {
    if (cancelled.count(rows_[slot]->request.id) == 0) continue;
    Emit(FinalEvent(rows_[slot]->request.id, FinishReason::kAbort), events);
    RemoveRow(slot, /*publish=*/true);  // what it computed is still right
  }
}

bool Scheduler::WaitsForPrefill(const std::vector<int64_t>& prompt, int64_t matched,
                                const std::vector<Admission>& admitted) const {
  if (!prefix_) return false;
  const int64_t block = prefix_->block_tokens();
  // Only a prefix that leaves a token to feed can be reused (its logits are needed).
  const auto limit = static_cast<int64_t>(prompt.size()) - 1;
  auto waits = [&](const std::vector<int64_t>& other, int64_t other_cached) {
    const int64_t common = CommonPrefix(prompt, other, limit) / block * block;
    return common >= matched + block && other_cached < common;
  };
  for (size_t slot = static_cast<size_t>(decoding_); slot < rows_.size(); ++slot) {
    if (waits(rows_[slot]->request.prompt, rows_[slot]->cached)) return true;
  }
  for (const Admission& other : admitted) {
    if (waits(other.request.prompt, static_cast<int64_t>(other.blocks.size()) * block)) return true;
  }
  return false;
}

void Scheduler::Admit(std::vector<TokenEvent>& events) {
  const int64_t free_slots = spec_.max_batch - static_cast<int64_t>(rows_.size());
  if (free_slots <= 0) return;
  std::vector<Admission> admitted;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    int scanned = 0;
    for (auto it = queue_.begin(); it != queue_.end() && static_cast<int64_t>(admitted.size()) < free_slots &&
                                   scanned < kAdmissionScan;
         ++scanned) {
      std::vector<int64_t> blocks;
      if (prefix_) blocks = prefix_->Lookup(it->prompt, static_cast<int64_t>(it->prompt.size()) - 1);
      // A request that shares a prefix with one being prefilled waits for it rather than computing the same
      // keys and values beside it; the others pass it.
      if (WaitsForPrefill(it->prompt, static_cast<int64_t>(blocks.size()) * (prefix_ ? prefix_->block_tokens() : 0),
                          admitted)) {
        ++it;
        continue;
      }
      admitted.push_back({std::move(*it), std::move(blocks)});
      it = queue_.erase(it);
    }
    // Under the lock that took them off the queue, so that Submit counts them once, as queued or as active.
    active_count_ = static_cast<int64_t>(rows_.size() + admitted.size());
  }
  for (Admission& admission : admitted) {
    auto sequence = std::make_unique<Sequence>();
    sequence->request = std::move(admission.request);
    const auto slot = static_cast<int64_t>(rows_.size());
    const int64_t reused = prefix_ ? static_cast<int64_t>(admission.blocks.size()) * prefix_->block_tokens() : 0;
    auto failure = Guarded("loading a cached prefix failed", codes::kInternal, [&] {
      executor_.LoadBlocks(admission.blocks, slot);
      executor_.MoveSlot(slot, slot, reused);  // clears what an earlier occupant left after the prefix
    });
    if (failure) {
      LoseDevice(*failure);
      Emit(ErrorEvent(sequence->request.id, *failure), events);
      continue;
    }
    if (prefix_) prefix_->CountHit(static_cast<int64_t>(admission.blocks.size()));
    sequence->cached = reused;
    rows_.push_back(std::move(sequence));
  }
}

std::vector<SampledToken> Scheduler::Sample(const at::Tensor& logits, const std::vector<Sequence*>& rows) {
  std::vector<SamplerRow> sampler_rows(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    sampler_rows[i] = {&rows[i]->request.sampling, &rows[i]->request.prompt, &rows[i]->generated,
                       static_cast<int64_t>(rows[i]->generated.size())};
  }
  return SampleBatch(logits, sampler_rows, masks_->Take(ConstraintsOf(rows), logits.device()));
}

std::vector<std::shared_ptr<Constraint>> Scheduler::ConstraintsOf(const std::vector<Sequence*>& rows) {
  std::vector<std::shared_ptr<Constraint>> constraints(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) constraints[i] = rows[i]->request.constraint;
  return constraints;
}

std::vector<SampledToken> Scheduler::DecodeRows(int64_t first_slot, const std::vector<int64_t>& tokens,
                                                const std::vector<int64_t>& positions,
                                                const std::vector<Sequence*>& rows) {
  const bool argmax = std::all_of(rows.begin(), rows.end(),
                                  [](const Sequence* row) { return PicksArgmax(row->request.sampling); });
  if (!argmax) return Sample(executor_.Decode(first_slot, tokens, positions), rows);
  GreedyDecode step = executor_.DecodeGreedy(first_slot, tokens, positions);
  if (!masks_->AllowsAll(ConstraintsOf(rows), step.ids)) return Sample(step.logits, rows);
  std::vector<SampledToken> sampled(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) sampled[i].id = step.ids[i];
  return sampled;
}

void Scheduler::BeginMasks(const std::vector<Sequence*>& rows) { masks_->Begin(ConstraintsOf(rows)); }

bool Scheduler::Accept(Sequence& sequence, SampledToken token, std::vector<TokenEvent>& events) {
  const int64_t id = token.id;
  sequence.generated.push_back(id);
  // Sequence length once this token is in: it still has to be fed.
  const int64_t length = static_cast<int64_t>(sequence.request.prompt.size() + sequence.generated.size());
  const auto& stops = sequence.request.stop_token_ids;
  FinishReason finish = FinishReason::kNone;
  Constraint* constraint = sequence.request.constraint.get();
  const Constraint::Step step = constraint != nullptr ? constraint->Commit(id) : Constraint::Step::kContinue;
  if (step == Constraint::Step::kError) {
    // Before the stop tokens: an end-of-sequence the format did not allow must not pass for a complete text.
    Emit(ErrorEvent(sequence.request.id, {codes::kInternal, "constrained decoding failed: " + constraint->error()}),
         events);
    return true;
  }
  if (std::find(stops.begin(), stops.end(), id) != stops.end()) {
    finish = FinishReason::kStop;
  } else if (step == Constraint::Step::kComplete) {
    finish = FinishReason::kStop;  // the format is complete; its last token is text, not a stop token
  } else if (static_cast<int64_t>(sequence.generated.size()) >= sequence.request.max_tokens ||
             length >= spec_.max_context) {
    finish = FinishReason::kLength;
  }
  TokenEvent event{sequence.request.id, {id}, {}, finish, "", ""};
  if (sequence.request.sampling.logprobs > 0) event.logprobs.push_back(std::move(token));
  Emit(std::move(event), events);
  return finish != FinishReason::kNone;
}

void Scheduler::Prefill(std::vector<TokenEvent>& events) {
  const int64_t first = decoding_;
  std::vector<int64_t> remaining;
  for (size_t slot = static_cast<size_t>(first); slot < rows_.size(); ++slot) {
    remaining.push_back(static_cast<int64_t>(rows_[slot]->request.prompt.size()) - rows_[slot]->cached);
  }
  const int64_t budget = executor_.ChunkedPrefill() ? spec_.prefill_chunk : spec_.max_context;
  const PrefillPlan plan = PlanPrefill(remaining, budget);
  std::vector<Sequence*> rows(static_cast<size_t>(plan.rows));
  std::vector<std::vector<int64_t>> chunks(rows.size());
  std::vector<int64_t> starts(rows.size());
  for (int64_t row = 0; row < plan.rows; ++row) {
    rows[row] = rows_[first + row].get();
    const auto& prompt = rows[row]->request.prompt;
    starts[row] = rows[row]->cached;
    chunks[row].assign(prompt.begin() + starts[row], prompt.begin() + starts[row] + plan.chunks[row]);
  }
  std::vector<at::Tensor> logits(rows.size());  // [1, V] each
  std::vector<std::optional<Failure>> failures(rows.size());
  std::vector<Sequence*> completing;  // the rows whose prompt this forward completes sample after it
  for (int64_t row = 0; row < plan.rows; ++row) {
    if (starts[row] + plan.chunks[row] == static_cast<int64_t>(rows[row]->request.prompt.size())) {
      completing.push_back(rows[row]);
    }
  }
  if (!completing.empty()) BeginMasks(completing);
  auto failure = Guarded("prefill failed", codes::kInternal, [&] {
    at::Tensor batch = executor_.Prefill(first, chunks, starts);
    for (size_t row = 0; row < rows.size(); ++row) logits[row] = batch.narrow(0, static_cast<int64_t>(row), 1);
  });
  if (failure && LoseDevice(*failure)) return;  // every row fails with it, in Step
  if (failure && rows.size() == 1) {
    failures[0] = std::move(failure);
  } else if (failure) {
    // Find the rows the failure concerns by running each alone, so that one bad prompt, or a batch that no
    // longer fits in memory, does not end the others.
    for (size_t row = 0; row < rows.size(); ++row) {
      failures[row] = Guarded("prefill failed", codes::kInternal, [&] {
        logits[row] = executor_.Prefill(first + static_cast<int64_t>(row), {chunks[row]}, {starts[row]});
      });
      if (failures[row] && LoseDevice(*failures[row])) return;
    }
  }
  std::vector<Sequence*> complete;
  std::vector<at::Tensor> complete_logits;
  for (size_t row = 0; row < rows.size(); ++row) {
    if (failures[row]) continue;
    Sequence& sequence = *rows[row];
    sequence.cached += plan.chunks[row];
    prompt_tokens_ += plan.chunks[row];
    if (sequence.cached == static_cast<int64_t>(sequence.request.prompt.size())) {
      complete.push_back(&sequence);
      complete_logits.push_back(logits[row]);
    } else {
      Publish(first + static_cast<int64_t>(row), /*with_generated=*/false);  // for requests that share it
    }
  }
  std::vector<SampledToken> sampled;
  if (!complete.empty()) {
    auto sample_failure = Guarded("sampling failed", codes::kInternal, [&] { sampled = Sample(at::cat(complete_logits), complete); });
    if (sample_failure && LoseDevice(*sample_failure)) return;
    if (sample_failure) {
      for (Sequence* sequence : complete) failures[SlotOf(sequence) - first] = sample_failure;
      complete.clear();
    }
  }
  // Settle the outcomes by identity: removing or promoting a row moves others between slots.
  std::vector<const Sequence*> failed;
  for (size_t row = 0; row < rows.size(); ++row) {
    if (failures[row]) {
      Emit(ErrorEvent(rows[row]->request.id, *failures[row]), events);
      failed.push_back(rows[row]);
    }
  }
  for (const Sequence* sequence : failed) RemoveRow(SlotOf(sequence), /*publish=*/false);
  for (size_t i = 0; i < complete.size(); ++i) {
    const bool finished = Accept(*complete[i], std::move(sampled[i]), events);
    const int64_t slot = SlotOf(complete[i]);
    if (finished) {
      RemoveRow(slot, /*publish=*/true);
    } else {
      Publish(slot, /*with_generated=*/false);
      Promote(slot);
    }
  }
}

void Scheduler::Decode(std::vector<TokenEvent>& events) {
  const int64_t batch = decoding_;
  std::vector<Sequence*> rows(static_cast<size_t>(batch));
  std::vector<int64_t> tokens(rows.size());
  std::vector<int64_t> positions(rows.size());
  for (int64_t row = 0; row < batch; ++row) {
    rows[row] = rows_[row].get();
    tokens[row] = rows[row]->generated.back();
    positions[row] = rows[row]->cached;
  }
  std::vector<SampledToken> sampled;
  std::vector<std::optional<Failure>> failures(rows.size());
  BeginMasks(rows);
  auto failure = Guarded("decode step failed", codes::kInternal,
                         [&] { sampled = DecodeRows(0, tokens, positions, rows); });
  if (failure && LoseDevice(*failure)) return;  // every row fails with it, in Step
  if (failure && batch == 1) {
    failures[0] = std::move(failure);
  } else if (failure) {
    // The batched step failed. Run each row alone to find the requests the failure concerns, so that
    // one bad request, or a batch that no longer fits in memory, does not end its neighbours. A row
    // samples the same token alone as in a batch (the sampler's randomness is per row).
    sampled.assign(rows.size(), SampledToken{});
    for (int64_t row = 0; row < batch; ++row) {
      failures[row] = Guarded("decode step failed", codes::kInternal, [&] {
        sampled[row] = std::move(DecodeRows(row, {tokens[row]}, {positions[row]}, {rows[row]})[0]);
      });
      if (failures[row] && LoseDevice(*failures[row])) return;
    }
  }
  std::vector<std::pair<int64_t, bool>> finished;  // (slot, publish)
  for (int64_t row = 0; row < batch; ++row) {
    if (failures[row]) {
      Emit(ErrorEvent(rows[row]->request.id, *failures[row]), events);
      finished.emplace_back(row, false);
      continue;
    }
    rows[row]->cached += 1;
    if (Accept(*rows[row], std::move(sampled[row]), events)) finished.emplace_back(row, true);
  }
  // Highest slots first: removing a decoding row moves only rows after it into its place.
  for (auto it = finished.rbegin(); it != finished.rend(); ++it) RemoveRow(it->first, it->second);
}

void Scheduler::Publish(int64_t slot, bool with_generated) {
  if (!prefix_) return;
  const Sequence& sequence = *rows_[slot];
  std::vector<int64_t> tokens(sequence.request.prompt);
  if (with_generated) tokens.insert(tokens.end(), sequence.generated.begin(), sequence.generated.end());
  const std::vector<PrefixCache::NewBlock> added = prefix_->Insert(tokens, sequence.cached);
  size_t saved = 0;
  auto failure = Guarded("caching a prefix failed", codes::kInternal, [&] {
    for (; saved < added.size(); ++saved) {
      executor_.SaveBlock(slot, added[saved].index * prefix_->block_tokens(), added[saved].id);
    }
  });
  if (failure) {
    // The blocks not saved must not be found; they are the last ones added, so they are leaves.
    for (size_t i = added.size(); i-- > saved;) prefix_->Forget(added[i].id);
    LoseDevice(*failure);
  }
}

void Scheduler::MoveRow(int64_t from, int64_t to) {
  executor_.MoveSlot(from, to, rows_[from]->cached);
  rows_[to] = std::move(rows_[from]);
}

void Scheduler::RemoveRow(int64_t slot, bool publish) {
  if (publish && !IsLost()) Publish(slot, /*with_generated=*/true);
  int64_t hole = slot;
  if (slot < decoding_) {
    // Keep the decoding group packed with its last row, then the prefill group with its last.
    const int64_t last_decoding = decoding_ - 1;
    if (slot != last_decoding) MoveRow(last_decoding, slot);
    decoding_ -= 1;
    hole = last_decoding;
  }
  const int64_t last = static_cast<int64_t>(rows_.size()) - 1;
  if (hole != last) MoveRow(last, hole);
  rows_.pop_back();
}

void Scheduler::Promote(int64_t slot) {
  if (slot != decoding_) {
    executor_.SwapSlots(slot, rows_[slot]->cached, decoding_, rows_[decoding_]->cached);
    std::swap(rows_[slot], rows_[decoding_]);
  }
  decoding_ += 1;
}

int64_t Scheduler::SlotOf(const Sequence* sequence) const {
  for (size_t slot = 0; slot < rows_.size(); ++slot) {
    if (rows_[slot].get() == sequence) return static_cast<int64_t>(slot);
  }
  return -1;
}

void Scheduler::EndAll(std::vector<TokenEvent>& events, const Failure* failure) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto end = [&](uint64_t id) {
    Emit(failure ? ErrorEvent(id, *failure) : FinalEvent(id, FinishReason::kAbort), events);
  };
  for (const auto& row : rows_) end(row->request.id);
  rows_.clear();
  decoding_ = 0;
  for (const auto& queued : queue_) end(queued.id);
  queue_.clear();
  cancelled_.clear();
}

bool Scheduler::LoseDevice(Failure& failure) {
  if (!failure.device_lost) return false;
  failure.code = codes::kDevice;
  failure.message += "; this CUDA error leaves the GPU unusable in this process, so every request on it fails: "
                     "restart the process (CUDA_LAUNCH_BLOCKING=1 names the failing kernel)";
  std::lock_guard<std::mutex> lock(mutex_);
  if (!lost_) lost_ = failure;
  return true;
}

bool Scheduler::IsLost() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lost_.has_value();
}

}  // namespace torchgen
