#include "engine_stream.h"

#ifdef TORCH_GEN_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace torchgen {

struct EngineStream::State {
#ifdef TORCH_GEN_CUDA
  explicit State(c10::cuda::CUDAStream stream) : stream(stream), guard(stream) {}
  c10::cuda::CUDAStream stream;
  c10::cuda::CUDAStreamGuard guard;
#endif
};

EngineStream::EngineStream(const c10::Device& device) {
#ifdef TORCH_GEN_CUDA
  if (!device.is_cuda()) return;
  try {
    // Pool streams do not wait for the default stream by themselves (they are non-blocking).
    c10::cuda::getDefaultCUDAStream(device.index()).synchronize();
    state_ = std::make_unique<State>(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index()));
  } catch (...) {
    // A device already lost fails here; the engine then runs on the default stream, and its first step
    // reports the error to the request.
    state_.reset();
  }
#else
  (void)device;
#endif
}

EngineStream::~EngineStream() {
#ifdef TORCH_GEN_CUDA
  if (!state_) return;
  try {
    state_->stream.synchronize();
  } catch (...) {
    // A lost device fails here too; the engine has reported that already.
  }
#endif
}

}  // namespace torchgen
