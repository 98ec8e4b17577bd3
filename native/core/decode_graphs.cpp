#include "decode_graphs.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#ifdef TORCH_GEN_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include "device_tokens.h"
#include "failure.h"
#include "kv_cache.h"
#include "model.h"

namespace torchgen {

namespace {

#ifdef TORCH_GEN_CUDA
// Makes `waiter` wait for the work queued on `stream` so far. (ATen's CUDAEvent header would pull in the
// whole CUDA toolkit's headers; the runtime API is all this needs.)
void StreamWaits(const c10::cuda::CUDAStream& waiter, const c10::cuda::CUDAStream& stream) {
  cudaEvent_t event = nullptr;
  C10_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  C10_CUDA_CHECK(cudaEventRecord(event, stream.stream()));
  C10_CUDA_CHECK(cudaStreamWaitEvent(waiter.stream(), event, 0));
  C10_CUDA_CHECK(cudaEventDestroy(event));  // freed once the wait is done; the wait itself stays queued
}

// Undoes what a failed capture left behind. CUDAGraph::capture_end throws before it ends the caching
// allocator's routing of this stream's allocations to the pool when cudaStreamEndCapture reports the
// invalidated capture, and its destructor releases the pool only after a capture that ended; so this ends
// the routing (when capture_end did not) and gives the pool back (when the graph will not), then clears the
// error CUDA keeps for the next launch check. Never throws: the capture's own error is the one to report.
void AbandonCapture(at::cuda::CUDAGraph& graph, c10::DeviceIndex device, c10::MempoolId_t pool, bool begun) {
  bool was_routing = false;
  try {
    c10::cuda::CUDACachingAllocator::endAllocateToPool(device, pool);
    was_routing = true;
  } catch (...) {
    // "not currently recording": capture_end got that far, or capture_begin never did.
  }
  bool ended = false;
  try {
    graph.pool();  // throws unless the capture ended, in which case the graph releases the pool itself
    ended = true;
  } catch (...) {
  }
  if (!ended && (was_routing || begun)) {
    try {
      c10::cuda::CUDACachingAllocator::releasePool(device, pool);
    } catch (...) {
    }
  }
  (void)cudaGetLastError();
}
#endif

// Smallest bucket: below it, attending to a few hundred masked positions costs less than the captures
// that finer buckets would need.
constexpr int64_t kMinBucket = 256;
// Eager runs before a capture: the TorchScript executor profiles and optimises its graph in the first
// runs, and cuBLAS sets up its workspace lazily; neither may happen inside a capture.
constexpr int kWarmupRuns = 3;
}  // namespace

int64_t GraphKvBucket(int64_t kv_len, int64_t max_context) {
  int64_t bucket = kMinBucket;
  while (bucket < kv_len) bucket *= 2;
  return std::min(bucket, max_context);
}

struct DecodeGraphs::State {
  Model& model;
  KvCache& cache;
  std::unique_ptr<DeviceTokens> tokens;  // [slots, 1] int64: the graphs' input, and their argmax output
  at::Tensor positions;  // [slots, 1] int64
  at::Tensor logits;     // [max_batch, V] float32: the graphs' output
  std::atomic<int64_t> captured{0};
  mutable std::mutex reason_mutex;  // disabled is read by Stats() on another thread
  std::string disabled;
#ifdef TORCH_GEN_CUDA
  c10::MempoolId_t pool;
  // Every capture runs on this one stream: each stream a capture touches gets its own cuBLAS workspace.
  std::optional<c10::cuda::CUDAStream> side;
  std::map<std::pair<int64_t, int64_t>, std::unique_ptr<at::cuda::CUDAGraph>> graphs;  // (batch, bucket)
#endif

  std::vector<int64_t> batch_sizes;  // ascending
  State(Model& model, KvCache& cache) : model(model), cache(cache) {}

#ifdef TORCH_GEN_CUDA
  // Captures the step for (batch, bucket) on the side stream; false (graphs off, with the reason) if it fails.
  bool Capture(int64_t batch, int64_t bucket);
#endif

  void Disable(std::string reason) {
    std::lock_guard<std::mutex> lock(reason_mutex);
    disabled = std::move(reason);
  }
  bool IsDisabled() const {
    std::lock_guard<std::mutex> lock(reason_mutex);
    return !disabled.empty();
  }

  // The step on the static buffers: what is captured, and what the warm-up runs. The argmax goes into the
  // token buffer after the forward has read it (one stream: in order). Every replay computes it, greedy
  // batch or not: one reduction over [B, V], against a second graph per shape for the greedy case.
  void Step(int64_t batch, int64_t bucket) {
    at::Tensor out = model.ForwardWithCache(tokens->buffer().narrow(0, 0, batch), positions.narrow(0, 0, batch),
                                            cache, 0, bucket);  // [B, V] float32
    at::Tensor rows = logits.narrow(0, 0, batch);
    rows.copy_(out);
    tokens->WriteArgmax(rows);
  }
};

DecodeGraphs::DecodeGraphs(Model& model, KvCache& cache, std::vector<int64_t> batch_sizes)
    : state_(std::make_unique<State>(model, cache)) {
  std::sort(batch_sizes.begin(), batch_sizes.end());
  state_->batch_sizes = std::move(batch_sizes);
  const int64_t slots = cache.shape().slots;
  const auto device = model.device();
  state_->tokens = std::make_unique<DeviceTokens>(slots, device);
  state_->positions = at::zeros({slots, 1}, at::TensorOptions().dtype(at::kLong).device(device));
  state_->logits = at::zeros({slots, model.spec().vocab_size}, at::TensorOptions().dtype(at::kFloat).device(device));
#ifdef TORCH_GEN_CUDA
  if (!device.is_cuda()) {
    state_->Disable("CUDA graphs need a CUDA device");
    return;
  }
  state_->pool = at::cuda::graph_pool_handle();
  state_->side = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index());
#else
  state_->Disable("this addon was built without the CUDA runtime headers (see CMakeLists.txt)");
#endif
}

DecodeGraphs::~DecodeGraphs() = default;

int64_t DecodeGraphs::captured() const { return state_->captured; }

int64_t DecodeGraphs::inputs_reused() const { return state_->tokens->reused(); }

std::string DecodeGraphs::disabled_reason() const {
  std::lock_guard<std::mutex> lock(state_->reason_mutex);
  return state_->disabled;
}

#ifdef TORCH_GEN_CUDA
bool DecodeGraphs::State::Capture(int64_t batch, int64_t bucket) {
  const c10::Device device = model.device();
  c10::cuda::CUDAGuard device_guard(device);
  // Capture on a side stream (CUDA does not capture the legacy default stream), ordered after the work
  // already queued on the current one and before the work queued after it.
  c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(device.index());
  const c10::cuda::CUDAStream stream = *side;
  StreamWaits(stream, current);
  auto graph = std::make_unique<at::cuda::CUDAGraph>();
  bool begun = false;
  auto failure = Guarded("CUDA graph capture failed", codes::kInternal, [&] {
    c10::cuda::CUDAStreamGuard stream_guard(stream);
    for (int i = 0; i < kWarmupRuns; ++i) Step(batch, bucket);
    // Thread-local: another engine's thread allocating on the same GPU does not break this capture.
    graph->capture_begin(pool, cudaStreamCaptureModeThreadLocal);
    begun = true;
    try {
      Step(batch, bucket);
    } catch (...) {
      try {
        graph->capture_end();
      } catch (...) {
        // The capture is already invalid; the first error is the one to report.
      }
      throw;
    }
    graph->capture_end();
  });
  if (failure) {
    AbandonCapture(*graph, device.index(), pool, begun);
    graph.reset();
    Disable(failure->message);
  }
  StreamWaits(current, stream);
  if (failure) return false;
  graphs.emplace(std::make_pair(batch, bucket), std::move(graph));
  captured += 1;
  return true;
}
#endif

void DecodeGraphs::CaptureAll() {
  if (state_->IsDisabled()) return;
#ifdef TORCH_GEN_CUDA
  State& state = *state_;
  // The load thread, unlike the engine's, is not in inference mode; the captured step must not record
  // autograd history.
  c10::InferenceMode inference_guard;
  const int64_t max_context = state.cache.shape().max_context;
  // Position 0 of each captured row: the warm-ups and captures write keys there, cleared below.
  state.tokens->buffer().zero_();
  state.positions.zero_();
  [&] {
    for (int64_t batch : state.batch_sizes) {
      for (int64_t bucket = GraphKvBucket(1, max_context);; bucket = GraphKvBucket(bucket + 1, max_context)) {
        if (!state.Capture(batch, bucket)) return;  // graphs are off now
        if (bucket >= max_context) break;
      }
    }
  }();
  state.tokens->Forget(state.tokens->buffer().size(0));  // the warm-ups and captures wrote argmaxes there
  state.cache.Clear();
#endif
}

at::Tensor DecodeGraphs::Forward(const std::vector<int64_t>& tokens, const at::Tensor& positions, int64_t kv_len) {
  if (state_->IsDisabled()) return {};
#ifdef TORCH_GEN_CUDA
  State& state = *state_;
  const auto batch = static_cast<int64_t>(tokens.size());
  const auto size = std::lower_bound(state.batch_sizes.begin(), state.batch_sizes.end(), batch);
  if (size == state.batch_sizes.end()) return {};
  const int64_t max_context = state.cache.shape().max_context;
  const auto found = state.graphs.find(std::make_pair(*size, GraphKvBucket(kv_len, max_context)));
  if (found == state.graphs.end()) return {};  // never captured while serving: the step runs eagerly
  state.tokens->Feed(tokens);
  state.positions.narrow(0, 0, batch).copy_(positions, /*non_blocking=*/true);
  if (*size > batch) {
    // Padding rows in the free slots after the batch: a valid token at the last position, which no
    // request's attention reaches before that slot is cleared for its next occupant (KvCache::MoveSlot).
    state.tokens->buffer().narrow(0, batch, *size - batch).fill_(0);
    state.positions.narrow(0, batch, *size - batch).fill_(max_context - 1);
    state.cache.NoteWritten(batch, *size - batch, max_context);
  }
  state.tokens->Forget(*size);  // the replay writes its argmaxes there
  found->second->replay();
  return state.logits.narrow(0, 0, batch);
#else
  (void)tokens;
  (void)positions;
  (void)kv_len;
  return {};
#endif
}

std::vector<int64_t> DecodeGraphs::ReadArgmax(int64_t batch) { return state_->tokens->Read(batch); }

}  // namespace torchgen
