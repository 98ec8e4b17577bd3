// The engine: one thread per loaded model that owns the module and the KV cache and runs every forward
// pass, so that the JavaScript thread never does. Requests queue up; each loop admits new requests
// (prefill), runs one decode step for every active request together, and hands the new tokens to one
// sink in a batch.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "device_memory.h"
#include "failure.h"
#include "model_spec.h"
#include "sampler.h"

namespace torchgen {

class ConstraintMasks;
class DecodeGraphs;
class KvCache;
class Model;

enum class FinishReason { kNone, kStop, kLength, kAbort, kError };

const char* FinishReasonName(FinishReason reason);

// Tokens produced for one request since the last event; the last event of a request has a finish reason.
struct TokenEvent {
  uint64_t request_id = 0;
  std::vector<int64_t> token_ids;
  // One per token id when the request asked for logprobs; empty otherwise.
  std::vector<SampledToken> logprobs;
  FinishReason finish = FinishReason::kNone;
  std::string error_code;  // set when finish == kError
  std::string error_message;
};

// Called on the engine thread with every event of one step. Must not block for long or throw.
using EventSink = std::function<void(std::vector<TokenEvent>&& events)>;

// A snapshot of the engine's load, for model.stats().
struct EngineStats {
  int64_t active = 0;            // requests holding a cache slot (decoding or being prefilled)
  int64_t queued = 0;            // requests waiting for a slot
  int64_t tokens_generated = 0;  // since load
  int64_t prompt_tokens = 0;     // prefilled since load
  int64_t requests_finished = 0; // ended for any reason since load
  int64_t cache_bytes = 0;       // the KV-cache pool, allocated once at load
  int64_t weight_bytes = 0;      // the module's parameters and buffers
  int64_t parameters = 0;        // parameter elements
  DeviceMemoryStats device_memory;   // the model's GPU, process-wide (zeros on the CPU)
  int64_t cuda_graphs_captured = 0;  // decode-step graphs captured so far
  std::string cuda_graphs_off;       // why the decode step runs eagerly on a GPU ('' when graphs are on)
  int64_t threads = 0;               // CPU threads the engine's forward passes use (libtorch intra-op)
  int64_t graph_nodes = 0;           // nodes of the module's forward graph (inference_graph.h)
  std::string graph_optimization;    // how the graph was prepared at load
};

class Engine {
 public:
  // Takes ownership of the model and allocates its cache (kv-cache interface): seconds of work for a
  // big cache, so call it off the JavaScript thread. Throws TorchGenError (ERR_OUT_OF_MEMORY).
  explicit Engine(std::unique_ptr<Model> model);

  // Starts the engine thread, which reports to `sink`, and returns once the thread has set up its
  // libtorch state (thread pool, inference mode). Call once.
  void Start(EventSink sink);
  // Stops the thread (aborting what is in flight) if Stop() was not called.
  ~Engine();

  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The gate for what protects memory (a prompt that is not empty, ids < vocab, a prompt within the
  // context) and the queue's bound; the addon's conversion has already checked types and option ranges.
  // Throws TorchGenError (ERR_INVALID_ARGUMENT, ERR_CONTEXT_LENGTH, ERR_QUEUE_FULL, ERR_DISPOSED); never
  // blocks on model work.
  void Submit(GenerationRequest request);

  EngineStats Stats();

  // Ends the request with FinishReason::kAbort at the next step boundary; unknown ids are ignored.
  void Cancel(uint64_t request_id);

  // Aborts every queued and running request, emits their final events and joins the thread. Idempotent.
  // Blocks for up to one forward pass: call it off the JavaScript thread.
  void Stop();


 private:
  // A request being generated.
  struct Active {
    GenerationRequest request;
    std::vector<int64_t> generated;  // sampled so far (penalties, and the `logits` interface's sequence)
    int64_t cached = 0;              // kv-cache: positions of this request already in its slot
  };
  int64_t PrefillSlot() const { return spec_.max_batch - 1; }

  void Run(std::promise<void>& started);
  bool WaitForWork();  // false when the engine should exit
  // Ends cancelled requests, queued or running, with an abort event.
  void EndCancelled(std::vector<TokenEvent>& events);
  // The next queued request, when the batch has room for it; null otherwise.
  std::unique_ptr<Active> Admit();
  void StepLogits(std::vector<TokenEvent>& events);
  // Feeds up to prefill_chunk prompt tokens (of one or more requests) into the cache; a request whose
  // prompt is complete samples its first token and joins the decoding rows.
  void PrefillWithCache(std::vector<TokenEvent>& events);
  // One decode step for every active request; a failure ends only the requests it concerns.
  void DecodeWithCache(std::vector<TokenEvent>& events);
  // Feeds each row's last token (rows are active_[first_row..], in their cache slots) and samples the
  // next. Throws on failure.
  std::vector<SampledToken> DecodeRows(const std::vector<Active*>& rows, int64_t first_row);
  void Emit(TokenEvent event, std::vector<TokenEvent>& events);
  // Samples one token per row from logits [B, V] for active requests `rows`, within each constrained row's
  // allowed tokens (constraint_masks.h).
  std::vector<SampledToken> Sample(const at::Tensor& logits, const std::vector<Active*>& rows);
  // Hook of constrained decoding: starts computing the rows' masks, to overlap the forward pass that follows.
  void BeginMasks(const std::vector<Active*>& rows);
  // Records a sampled token, emits it, and says whether the request is finished.
  bool Accept(Active& active, SampledToken token, std::vector<TokenEvent>& events);
  // Removes finished rows (indices into active_) keeping the cache slots packed.
  void Retire(std::vector<size_t> rows);
  // Ends every queued and running request: with an abort, or with `failure` when it is given.
  void EndAll(std::vector<TokenEvent>& events, const Failure* failure = nullptr);
  // Whether `failure` lost the device; if so the engine is dead from now on (see lost_), and `failure` is
  // reworded to say so.
  bool LoseDevice(Failure& failure);
  bool IsLost();

  const ModelSpec spec_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<KvCache> cache_;  // kv-cache interface only
  std::unique_ptr<DecodeGraphs> graphs_;  // CUDA with graphs enabled only
  std::unique_ptr<ConstraintMasks> masks_;  // constrained decoding's bitmasks, per step
  EventSink sink_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<GenerationRequest> queue_;     // guarded by mutex_
  std::unordered_set<uint64_t> cancelled_;  // guarded by mutex_
  bool stopping_ = false;                   // guarded by mutex_
  // Set by a sticky CUDA error: every request in flight then fails with it, and Submit refuses new ones.
  std::optional<Failure> lost_;             // guarded by mutex_

  // Engine thread only. With the kv-cache interface, active_[i] lives in cache slot i, and the request
  // being prefilled lives in the last slot (max_batch - 1), which no decoding row uses meanwhile: it is
  // admitted only while active_.size() < max_batch.
  std::vector<std::unique_ptr<Active>> active_;
  std::unique_ptr<Active> prefilling_;
  std::thread thread_;

  std::atomic<int64_t> threads_{0};  // set by the engine thread before Start returns
  std::atomic<int64_t> active_count_{0};
  std::atomic<int64_t> tokens_generated_{0};
  std::atomic<int64_t> prompt_tokens_{0};
  std::atomic<int64_t> requests_finished_{0};
};

}  // namespace torchgen
