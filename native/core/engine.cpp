#include "engine.h"

#include <ATen/Parallel.h>
#include <c10/core/DeviceGuard.h>
#include <c10/core/InferenceMode.h>

#include "engine_stream.h"
#include "executor.h"
#include "model.h"
#include "openmp_threads.h"
#include "scheduler.h"

namespace torchgen {

namespace {

// The prefix cache's block: the granularity of reuse (a prompt reuses whole blocks) against the number of
// copies a hit costs (one per block and pool). 16 tokens, as vLLM's default, keeps a chat's reuse within
// 15 tokens of everything it shares.
constexpr int64_t kPrefixBlockTokens = 16;

}  // namespace

Engine::Engine(std::unique_ptr<Model> model) : model_(std::move(model)) {
  executor_ = MakeExecutor(*model_, kPrefixBlockTokens);
  scheduler_ = std::make_unique<Scheduler>(model_->spec(), *executor_, kPrefixBlockTokens);
}

void Engine::Start(EventSink sink) {
  sink_ = std::move(sink);
  std::promise<void> started;
  std::future<void> ready = started.get_future();
  thread_ = std::thread([this, &started] { Run(started); });
  ready.wait();
}

Engine::~Engine() { Stop(); }

void Engine::Submit(GenerationRequest request) { scheduler_->Submit(std::move(request)); }

void Engine::Cancel(uint64_t request_id) { scheduler_->Cancel(request_id); }

void Engine::Stop() {
  scheduler_->Stop();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void Engine::Run(std::promise<void>& started) {
  // OpenMP's thread count is a property of the calling thread: this engine's own. Named first, so that
  // its OpenMP workers carry the name too (openmp_threads.h: this team must be the model's only one).
  NameThisThread(kEngineThreadName);
  UseOpenMpThreads(static_cast<int>(model_->spec().threads));
  threads_ = at::get_num_threads();
  // Autograd bookkeeping is wasted work at inference; the guard is thread-local, hence here.
  c10::InferenceMode inference_guard;
  // Work that names no device (a capture's streams, pinned host copies) goes to the model's.
  c10::OptionalDeviceGuard device_guard;
  if (model_->device().is_cuda()) device_guard.reset_device(model_->device());
  EngineStream stream(model_->device());
  started.set_value();  // `started` lives in Start's frame, which returns now: no use of it after this
  while (scheduler_->WaitForWork()) {
    std::vector<TokenEvent> events = scheduler_->Step(sink_);
    if (!events.empty()) sink_(std::move(events));
  }
  std::vector<TokenEvent> events = scheduler_->Shutdown();
  if (!events.empty()) sink_(std::move(events));
}

EngineStats Engine::Stats() {
  const SchedulerStats scheduled = scheduler_->Stats();
  const ExecutorStats executed = executor_->Stats();
  EngineStats stats;
  stats.active = scheduled.active;
  stats.queued = scheduled.queued;
  stats.tokens_generated = scheduled.tokens_generated;
  stats.prompt_tokens = scheduled.prompt_tokens;
  stats.requests_finished = scheduled.requests_finished;
  stats.prefix_cache = scheduled.prefix;
  stats.prefix_cache_bytes = executed.prefix_storage_bytes;
  stats.cache_bytes = executed.cache_bytes;
  stats.weight_bytes = model_->weight_bytes();
  stats.parameters = model_->parameter_count();
  stats.device_memory = DeviceMemory(model_->device());
  stats.threads = threads_;
  stats.graph_nodes = model_->graph_nodes();
  stats.graph_optimization = model_->graph_optimization();
  stats.cuda_graphs_captured = executed.cuda_graphs_captured;
  stats.cuda_graphs_off = executed.cuda_graphs_off;
  return stats;
}

}  // namespace torchgen
