#include "engine.h"

#include <algorithm>

#include <c10/core/InferenceMode.h>

#include "failure.h"
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

// A request being generated: its whole sequence so far (the `logits` interface recomputes all of it).
struct Engine::Active {
  GenerationRequest request;
  std::vector<int64_t> sequence;
  int64_t generated = 0;
};

Engine::Engine(std::unique_ptr<Model> model, EventSink sink)
    : spec_(model->spec()), model_(std::move(model)), sink_(std::move(sink)) {
  thread_ = std::thread([this] { Run(); });
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
    throw TorchGenError(codes::kInvalidArgument, "the prompt has " + std::to_string(request.prompt.size()) +
                                                     " tokens; the model's context holds " +
                                                     std::to_string(spec_.max_context) +
                                                     " including at least one generated token");
  }
  if (request.max_tokens < 1) {
    throw TorchGenError(codes::kInvalidArgument,
                        "max_tokens must be at least 1, received " + std::to_string(request.max_tokens));
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) throw TorchGenError(codes::kDisposed, "the model has been disposed");
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
  stopped_ = true;
}

void Engine::Run() {
  // Autograd bookkeeping is wasted work at inference; the guard is thread-local, hence here.
  c10::InferenceMode inference_guard;
  while (WaitForWork()) {
    std::vector<TokenEvent> events;
    AdmitAndCancel(events);
    if (!active_.empty()) Step(events);
    if (!events.empty()) sink_(std::move(events));
  }
  std::vector<TokenEvent> events;
  AbortAll(events);
  if (!events.empty()) sink_(std::move(events));
}

bool Engine::WaitForWork() {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait(lock, [this] { return stopping_ || !queue_.empty() || !active_.empty() || !cancelled_.empty(); });
  return !stopping_;
}

void Engine::AdmitAndCancel(std::vector<TokenEvent>& events) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Cancelled requests end at this step boundary, queued or running.
  auto is_cancelled = [this](uint64_t id) { return cancelled_.count(id) > 0; };
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (is_cancelled(it->id)) {
      events.push_back({it->id, {}, FinishReason::kAbort, "", ""});
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = active_.begin(); it != active_.end();) {
    if (is_cancelled((*it)->request.id)) {
      events.push_back({(*it)->request.id, {}, FinishReason::kAbort, "", ""});
      it = active_.erase(it);
    } else {
      ++it;
    }
  }
  cancelled_.clear();
  // The `logits` interface has no cache to share, so it runs one request at a time, in arrival order.
  if (active_.empty() && !queue_.empty()) {
    auto active = std::make_unique<Active>();
    active->request = std::move(queue_.front());
    queue_.pop_front();
    active->sequence = active->request.prompt;
    active_.push_back(std::move(active));
  }
}

void Engine::Step(std::vector<TokenEvent>& events) {
  Active& active = *active_.front();
  int64_t token = -1;
  auto failure = Guarded("generation failed", codes::kInternal, [&] {
    token = SampleGreedy(model_->NextTokenLogits(active.sequence));
  });
  if (failure) {
    events.push_back({active.request.id, {}, FinishReason::kError, failure->code, failure->message});
    active_.erase(active_.begin());
    return;
  }
  active.sequence.push_back(token);
  active.generated += 1;
  const auto& stops = active.request.stop_token_ids;
  FinishReason finish = FinishReason::kNone;
  if (std::find(stops.begin(), stops.end(), token) != stops.end()) {
    finish = FinishReason::kStop;
  } else if (active.generated >= active.request.max_tokens ||
             static_cast<int64_t>(active.sequence.size()) >= spec_.max_context) {
    finish = FinishReason::kLength;
  }
  events.push_back({active.request.id, {token}, finish, "", ""});
  if (finish != FinishReason::kNone) active_.erase(active_.begin());
}

void Engine::AbortAll(std::vector<TokenEvent>& events) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& active : active_) events.push_back({active->request.id, {}, FinishReason::kAbort, "", ""});
  active_.clear();
  for (const auto& queued : queue_) events.push_back({queued.id, {}, FinishReason::kAbort, "", ""});
  queue_.clear();
  cancelled_.clear();
}

}  // namespace torchgen
