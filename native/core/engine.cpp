#include "engine.h"

#include <algorithm>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/DeviceGuard.h>
#include <c10/core/InferenceMode.h>

#include "constraint.h"
#include "constraint_masks.h"
#include "decode_graphs.h"
#include "device_copy.h"
#include "engine_stream.h"
#include "failure.h"
#include "kv_cache.h"
#include "model.h"
#include "sampler.h"

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

TokenEvent FinalEvent(uint64_t id, FinishReason reason) { return {id, {}, {}, reason, "", ""}; }

TokenEvent ErrorEvent(uint64_t id, const Failure& failure) {
  return {id, {}, {}, FinishReason::kError, failure.code, failure.message};
}

template <typename Row>
std::vector<std::shared_ptr<Constraint>> ConstraintsOf(const std::vector<Row*>& rows) {
  std::vector<std::shared_ptr<Constraint>> constraints(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) constraints[i] = rows[i]->request.constraint;
  return constraints;
}

}  // namespace

Engine::Engine(std::unique_ptr<Model> model)
    : spec_(model->spec()), model_(std::move(model)), masks_(std::make_unique<ConstraintMasks>(spec_.vocab_size)) {
  if (spec_.interface == ModelInterface::kKvCache) {
    cache_ = model_->AllocateCache();
    if (spec_.cuda_graphs && model_->device().is_cuda()) {
      graphs_ = std::make_unique<DecodeGraphs>(*model_, *cache_, spec_.cuda_graph_batch_sizes);
      graphs_->CaptureAll();
    }
  }
}

void Engine::Start(EventSink sink) {
  sink_ = std::move(sink);
  std::promise<void> started;
  std::future<void> ready = started.get_future();
  thread_ = std::thread([this, &started] { Run(started); });
  ready.wait();
}

Engine::~Engine() { Stop(); }

void Engine::Submit(GenerationRequest request) {
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

void Engine::Cancel(uint64_t request_id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    cancelled_.insert(request_id);
  }
  wake_.notify_one();
}

void Engine::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void Engine::Run(std::promise<void>& started) {
  // OpenMP's thread count is a property of the calling thread, and a thread libtorch did not create starts
  // with whatever the runtime defaulted to (one core inside Node): set this engine's own, as libtorch asks
  // of every thread it did not start (at::init_num_threads).
  at::init_num_threads();
  at::set_num_threads(static_cast<int>(spec_.threads));
  threads_ = at::get_num_threads();
  // Autograd bookkeeping is wasted work at inference; the guard is thread-local, hence here.
  c10::InferenceMode inference_guard;
  // Work that names no device (a capture's streams, pinned host copies) goes to the model's.
  c10::OptionalDeviceGuard device_guard;
  if (model_->device().is_cuda()) device_guard.reset_device(model_->device());
  EngineStream stream(model_->device());
  started.set_value();  // `started` lives in Start's frame, which returns now: no use of it after this
  while (WaitForWork()) {
    std::vector<TokenEvent> events;
    EndCancelled(events);
    if (spec_.interface == ModelInterface::kLogits) {
      if (active_.empty()) {
        if (auto admitted = Admit()) active_.push_back(std::move(admitted));
      }
      if (!active_.empty()) StepLogits(events);
    } else {
      PrefillWithCache(events);
      if (!active_.empty() && !IsLost()) DecodeWithCache(events);
    }
    if (IsLost()) {
      std::unique_lock<std::mutex> lock(mutex_);
      const Failure lost = *lost_;
      lock.unlock();
      EndAll(events, &lost);
    }
    active_count_ = static_cast<int64_t>(active_.size()) + (prefilling_ ? 1 : 0);
    if (!events.empty()) sink_(std::move(events));
  }
  std::vector<TokenEvent> events;
  EndAll(events);
  active_count_ = 0;
  if (!events.empty()) sink_(std::move(events));
}

EngineStats Engine::Stats() {
  EngineStats stats;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stats.queued = static_cast<int64_t>(queue_.size());
  }
  stats.active = active_count_;
  stats.tokens_generated = tokens_generated_;
  stats.prompt_tokens = prompt_tokens_;
  stats.requests_finished = requests_finished_;
  stats.cache_bytes = cache_ ? cache_->bytes() : 0;
  stats.weight_bytes = model_->weight_bytes();
  stats.parameters = model_->parameter_count();
  stats.device_memory = DeviceMemory(model_->device());
  stats.threads = threads_;
  stats.graph_nodes = model_->graph_nodes();
  stats.graph_optimization = model_->graph_optimization();
  if (graphs_) {
    stats.cuda_graphs_captured = graphs_->captured();
    stats.cuda_graphs_off = graphs_->disabled_reason();
  } else if (model_->device().is_cuda()) {
    stats.cuda_graphs_off = !spec_.cuda_graphs ? "turned off by the cudaGraphs option"
                            : spec_.interface != ModelInterface::kKvCache ? "the logits interface has no decode step"
                                                                          : "";
  }
  return stats;
}

void Engine::Emit(TokenEvent event, std::vector<TokenEvent>& events) {
  tokens_generated_ += static_cast<int64_t>(event.token_ids.size());
  if (event.finish != FinishReason::kNone) requests_finished_ += 1;
  events.push_back(std::move(event));
}

bool Engine::WaitForWork() {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait(lock, [this] {
    return stopping_ || !queue_.empty() || !active_.empty() || prefilling_ != nullptr || !cancelled_.empty();
  });
  return !stopping_;
}

void Engine::EndCancelled(std::vector<TokenEvent>& events) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (cancelled_.empty()) return;
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (cancelled_.count(it->id) > 0) {
      Emit(FinalEvent(it->id, FinishReason::kAbort), events);
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  if (prefilling_ && cancelled_.count(prefilling_->request.id) > 0) {
    Emit(FinalEvent(prefilling_->request.id, FinishReason::kAbort), events);
    prefilling_.reset();
  }
  std::vector<size_t> rows;
  for (size_t row = 0; row < active_.size(); ++row) {
    if (cancelled_.count(active_[row]->request.id) > 0) {
      Emit(FinalEvent(active_[row]->request.id, FinishReason::kAbort), events);
      rows.push_back(row);
    }
  }
  Retire(std::move(rows));
  cancelled_.clear();
}

std::unique_ptr<Engine::Active> Engine::Admit() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (queue_.empty() || static_cast<int64_t>(active_.size()) >= spec_.max_batch) return nullptr;
  auto active = std::make_unique<Active>();
  active->request = std::move(queue_.front());
  queue_.pop_front();
  return active;
}

std::vector<SampledToken> Engine::Sample(const at::Tensor& logits, const std::vector<Active*>& rows) {
  std::vector<SamplerRow> sampler_rows(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    sampler_rows[i] = {&rows[i]->request.sampling, &rows[i]->request.prompt, &rows[i]->generated,
                       static_cast<int64_t>(rows[i]->generated.size())};
  }
  return SampleBatch(logits, sampler_rows, masks_->Take(ConstraintsOf(rows), logits.device()));
}

void Engine::BeginMasks(const std::vector<Active*>& rows) { masks_->Begin(ConstraintsOf(rows)); }

bool Engine::Accept(Active& active, SampledToken token, std::vector<TokenEvent>& events) {
  const int64_t id = token.id;
  active.generated.push_back(id);
  // Sequence length once this token is in: the kv-cache interface still has to feed it.
  const int64_t length = static_cast<int64_t>(active.request.prompt.size() + active.generated.size());
  const auto& stops = active.request.stop_token_ids;
  FinishReason finish = FinishReason::kNone;
  Constraint* constraint = active.request.constraint.get();
  const Constraint::Step step = constraint != nullptr ? constraint->Commit(id) : Constraint::Step::kContinue;
  if (step == Constraint::Step::kError) {
    // Before the stop tokens: an end-of-sequence the format did not allow must not pass for a complete text.
    Emit(ErrorEvent(active.request.id, {codes::kInternal, "constrained decoding failed: " + constraint->error()}), events);
    return true;
  }
  if (std::find(stops.begin(), stops.end(), id) != stops.end()) {
    finish = FinishReason::kStop;
  } else if (step == Constraint::Step::kComplete) {
    finish = FinishReason::kStop;  // the format is complete; its last token is text, not a stop token
  } else if (static_cast<int64_t>(active.generated.size()) >= active.request.max_tokens ||
             length >= spec_.max_context) {
    finish = FinishReason::kLength;
  }
  TokenEvent event{active.request.id, {id}, {}, finish, "", ""};
  if (active.request.sampling.logprobs > 0) event.logprobs.push_back(std::move(token));
  Emit(std::move(event), events);
  return finish != FinishReason::kNone;
}

void Engine::StepLogits(std::vector<TokenEvent>& events) {
  Active& active = *active_.front();
  std::vector<SampledToken> sampled;
  auto failure = Guarded("generation failed", codes::kInternal, [&] {
    std::vector<int64_t> sequence(active.request.prompt);
    sequence.insert(sequence.end(), active.generated.begin(), active.generated.end());
    sampled = Sample(model_->NextTokenLogits(sequence).unsqueeze(0), {&active});  // [1, V]
  });
  if (failure) {
    LoseDevice(*failure);
    Emit(ErrorEvent(active.request.id, *failure), events);
    Retire({0});
    return;
  }
  if (Accept(active, std::move(sampled[0]), events)) Retire({0});
}

void Engine::PrefillWithCache(std::vector<TokenEvent>& events) {
  int64_t budget = spec_.prefill_chunk;
  while (budget > 0) {
    if (!prefilling_) {
      prefilling_ = Admit();
      if (!prefilling_) return;
    }
    Active& active = *prefilling_;
    const auto& prompt = active.request.prompt;
    const int64_t start = active.cached;
    const int64_t count = std::min(budget, static_cast<int64_t>(prompt.size()) - start);
    const bool last_chunk = start + count == static_cast<int64_t>(prompt.size());
    std::vector<int64_t> tokens(prompt.begin() + start, prompt.begin() + start + count);
    std::vector<int64_t> positions(count);
    for (int64_t i = 0; i < count; ++i) positions[i] = start + i;
    std::vector<SampledToken> sampled;
    cache_->NoteWritten(PrefillSlot(), 1, start + count);
    if (last_chunk) BeginMasks({&active});
    auto failure = Guarded("prefill failed", codes::kInternal, [&] {
      at::Tensor logits = model_->ForwardWithCache(HostToDevice(tokens, {1, count}, model_->device()),
                                                   HostToDevice(positions, {1, count}, model_->device()), *cache_,
                                                   PrefillSlot(), start + count);  // [1, V]
      if (last_chunk) sampled = Sample(logits, {&active});  // its mask was begun before the forward
    });
    budget -= count;
    if (failure) {
      const bool lost = LoseDevice(*failure);
      Emit(ErrorEvent(active.request.id, *failure), events);
      prefilling_.reset();
      if (lost) return;
      continue;
    }
    active.cached += count;
    prompt_tokens_ += count;
    if (!last_chunk) return;  // the budget is spent; the rest of the prompt goes in the next steps
    // Join the decoding rows: move the prompt's keys and values next to theirs.
    const auto row = static_cast<int64_t>(active_.size());
    cache_->MoveSlot(PrefillSlot(), row, active.cached);
    std::unique_ptr<Active> joined = std::move(prefilling_);
    if (!Accept(*joined, std::move(sampled[0]), events)) active_.push_back(std::move(joined));
  }
}

std::vector<SampledToken> Engine::DecodeRows(const std::vector<Active*>& rows, int64_t first_row) {
  const auto count = static_cast<int64_t>(rows.size());
  std::vector<int64_t> tokens(count);
  std::vector<int64_t> positions(count);
  int64_t kv_len = 0;
  for (int64_t i = 0; i < count; ++i) {
    tokens[i] = rows[i]->generated.back();
    positions[i] = rows[i]->cached;
    kv_len = std::max(kv_len, positions[i] + 1);
  }
  at::Tensor token_tensor = HostToDevice(tokens, {count, 1}, model_->device());
  at::Tensor position_tensor = HostToDevice(positions, {count, 1}, model_->device());
  cache_->NoteWritten(first_row, count, kv_len);  // before the forward: a failed one may have written too
  BeginMasks(rows);
  at::Tensor logits;  // [B, V]
  if (graphs_ && first_row == 0) logits = graphs_->Forward(token_tensor, position_tensor, kv_len);
  if (!logits.defined()) {
    logits = model_->ForwardWithCache(token_tensor, position_tensor, *cache_, first_row, kv_len);
  }
  return Sample(logits, rows);
}

void Engine::DecodeWithCache(std::vector<TokenEvent>& events) {
  const auto batch = static_cast<int64_t>(active_.size());
  std::vector<Active*> rows(batch);
  for (int64_t row = 0; row < batch; ++row) rows[row] = active_[row].get();
  std::vector<SampledToken> sampled;
  std::vector<std::optional<Failure>> failures(batch);
  auto failure = Guarded("decode step failed", codes::kInternal, [&] { sampled = DecodeRows(rows, 0); });
  if (failure && LoseDevice(*failure)) return;  // every row fails with it, in Run
  if (failure && batch == 1) {
    failures[0] = std::move(failure);
  } else if (failure) {
    // The batched step failed. Run each row alone to find the requests the failure concerns, so that
    // one bad request, or a batch that no longer fits in memory, does not end its neighbours. A row
    // samples the same token alone as in a batch (the sampler's randomness is per row).
    sampled.assign(batch, SampledToken{});
    for (int64_t row = 0; row < batch; ++row) {
      failures[row] = Guarded("decode step failed", codes::kInternal, [&] {
        sampled[row] = std::move(DecodeRows({rows[row]}, row)[0]);
      });
    }
  }
  std::vector<size_t> finished;
  for (int64_t row = 0; row < batch; ++row) {
    if (failures[row]) {
      Emit(ErrorEvent(rows[row]->request.id, *failures[row]), events);
      finished.push_back(static_cast<size_t>(row));
      continue;
    }
    rows[row]->cached += 1;
    if (Accept(*rows[row], std::move(sampled[row]), events)) finished.push_back(static_cast<size_t>(row));
  }
  Retire(std::move(finished));
}

void Engine::Retire(std::vector<size_t> rows) {
  // Highest rows first, so moving the last active request into a freed slot never moves a row that is
  // itself about to be retired.
  std::sort(rows.rbegin(), rows.rend());
  for (size_t row : rows) {
    const size_t last = active_.size() - 1;
    if (row != last) {
      if (cache_) cache_->MoveSlot(static_cast<int64_t>(last), static_cast<int64_t>(row), active_[last]->cached);
      active_[row] = std::move(active_[last]);
    }
    active_.pop_back();
  }
}

void Engine::EndAll(std::vector<TokenEvent>& events, const Failure* failure) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto end = [&](uint64_t id) {
    Emit(failure ? ErrorEvent(id, *failure) : FinalEvent(id, FinishReason::kAbort), events);
  };
  for (const auto& active : active_) end(active->request.id);
  active_.clear();
  if (prefilling_) end(prefilling_->request.id);
  prefilling_.reset();
  for (const auto& queued : queue_) end(queued.id);
  queue_.clear();
  cancelled_.clear();
}

bool Engine::LoseDevice(Failure& failure) {
  if (!failure.device_lost) return false;
  failure.code = codes::kDevice;
  failure.message += "; this CUDA error leaves the GPU unusable in this process, so every request on it fails: "
                     "restart the process (CUDA_LAUNCH_BLOCKING=1 names the failing kernel)";
  std::lock_guard<std::mutex> lock(mutex_);
  if (!lost_) lost_ = failure;
  return true;
}

bool Engine::IsLost() {
  std::lock_guard<std::mutex> lock(mutex_);
  return lost_.has_value();
}

}  // namespace torchgen
