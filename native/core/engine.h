// The engine: one thread per loaded model that owns the module and runs every forward pass, so that
// the JavaScript thread never does. The scheduler (scheduler.h) decides what each step runs; the executor
// of the model's interface (executor.h) runs it; the engine thread loops over the scheduler's steps and
// hands each step's tokens to one sink in a batch.
#pragma once

#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "device_memory.h"
#include "engine_events.h"
#include "failure.h"
#include "model_spec.h"
#include "prefix_cache.h"

namespace torchgen {

class Executor;
class Model;
class Scheduler;

// A snapshot of the engine's load, for model.stats().
struct EngineStats {
  int64_t active = 0;            // requests holding a cache slot (decoding or being prefilled)
  int64_t queued = 0;            // requests waiting for a slot
  int64_t tokens_generated = 0;  // since load
  int64_t prompt_tokens = 0;     // prefilled since load (tokens reused from the prefix cache not included)
  int64_t requests_finished = 0; // ended for any reason since load
  int64_t cache_bytes = 0;       // the KV-cache pool, allocated once at load
  int64_t weight_bytes = 0;      // the module's parameters and buffers
  int64_t parameters = 0;        // parameter elements
  DeviceMemoryStats device_memory;   // the model's GPU, process-wide (zeros on the CPU)
  int64_t cuda_graphs_captured = 0;  // decode-step graphs captured so far
  std::string cuda_graphs_off;       // why the decode step runs eagerly on a GPU ('' when graphs are on)
  int64_t device_fed_steps = 0;      // decode steps whose tokens were on the device already (greedy batches)
  int64_t threads = 0;               // CPU threads the engine's forward passes use (libtorch intra-op)
  int64_t graph_nodes = 0;           // nodes of the module's forward graph (inference_graph.h)
  std::string graph_optimization;    // how the graph was prepared at load
  PrefixCacheStats prefix_cache;     // all zeros when prefix caching is off
  int64_t prefix_cache_bytes = 0;    // its block storage (its budget, rounded down to whole blocks)
};

class Engine {
 public:
  // Takes ownership of the model and allocates its executor's state (the KV cache, CUDA graphs, prefix
  // storage): seconds of work for a big cache, so call it off the JavaScript thread. Throws TorchGenError
  // (ERR_OUT_OF_MEMORY).
  explicit Engine(std::unique_ptr<Model> model);

  // Starts the engine thread, which reports to `sink`, and returns once the thread has set up its
  // libtorch state (thread pool, inference mode). Call once.
  void Start(EventSink sink);
  // Stops the thread (aborting what is in flight) if Stop() was not called.
  ~Engine();

  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // See Scheduler::Submit: throws TorchGenError; never blocks on model work.
  void Submit(GenerationRequest request);

  EngineStats Stats();

  // Ends the request with FinishReason::kAbort at the next step boundary; unknown ids are ignored.
  void Cancel(uint64_t request_id);

  // Aborts every queued and running request, emits their final events and joins the thread. Idempotent.
  // Blocks for up to one forward pass: call it off the JavaScript thread.
  void Stop();

 private:
  void Run(std::promise<void>& started);

  std::unique_ptr<Model> model_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<Scheduler> scheduler_;
  EventSink sink_;
  std::thread thread_;
  std::atomic<int64_t> threads_{0};  // set by the engine thread before Start returns
};

}  // namespace torchgen
