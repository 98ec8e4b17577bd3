// The engine: one thread per loaded model that owns the module and runs every forward pass, so that the
// JavaScript thread never does. Requests queue up; results leave in batches through one sink.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "model_spec.h"

namespace torchgen {

class Model;

enum class FinishReason { kNone, kStop, kLength, kAbort, kError };

const char* FinishReasonName(FinishReason reason);

// Tokens produced for one request since the last event; the last event of a request has a finish reason.
struct TokenEvent {
  uint64_t request_id = 0;
  std::vector<int64_t> token_ids;
  FinishReason finish = FinishReason::kNone;
  std::string error_code;  // set when finish == kError
  std::string error_message;
};

// Called on the engine thread with every event of one step. Must not block for long or throw.
using EventSink = std::function<void(std::vector<TokenEvent>&& events)>;

class Engine {
 public:
  // Takes ownership of the model and starts the engine thread.
  Engine(std::unique_ptr<Model> model, EventSink sink);
  // Stops the thread (aborting what is in flight) if Stop() was not called.
  ~Engine();

  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Checks the request (ids < vocab, lengths within the context) and queues it. Throws TorchGenError
  // (ERR_INVALID_ARGUMENT, ERR_DISPOSED); never blocks on model work.
  void Submit(GenerationRequest request);

  // Ends the request with FinishReason::kAbort at the next step boundary; unknown ids are ignored.
  void Cancel(uint64_t request_id);

  // Aborts every queued and running request, emits their final events and joins the thread. Idempotent.
  // Blocks for up to one forward pass: call it off the JavaScript thread.
  void Stop();

  const ModelSpec& spec() const { return spec_; }

 private:
  struct Active;

  void Run();
  // Returns false when the engine should exit.
  bool WaitForWork();
  void AdmitAndCancel(std::vector<TokenEvent>& events);
  void Step(std::vector<TokenEvent>& events);
  void AbortAll(std::vector<TokenEvent>& events);

  const ModelSpec spec_;
  std::unique_ptr<Model> model_;
  EventSink sink_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<GenerationRequest> queue_;        // guarded by mutex_
  std::unordered_set<uint64_t> cancelled_;     // guarded by mutex_
  bool stopping_ = false;                      // guarded by mutex_
  std::atomic<bool> stopped_{false};

  std::vector<std::unique_ptr<Active>> active_;  // engine thread only
  std::thread thread_;
};

}  // namespace torchgen
