// The CUDA stream one engine's work runs on. On the legacy default stream, two models on one GPU would
// serialise, and each one's per-step host sync would wait for the other's work too.
#pragma once

#include <memory>

#include <c10/core/Device.h>

namespace torchgen {

class EngineStream {
 public:
  // On a CUDA device: waits for what the loading thread queued on the device's default stream (the
  // weights, the zeroed cache), takes a stream from libtorch's pool and makes it this thread's current
  // stream for the object's lifetime. Does nothing on the CPU, or in an addon built without the CUDA
  // headers (which then runs on the default stream). Never throws.
  explicit EngineStream(const c10::Device& device);
  // Waits for the work queued on the stream, so that another thread may free the engine's tensors.
  ~EngineStream();
  EngineStream(const EngineStream&) = delete;
  EngineStream& operator=(const EngineStream&) = delete;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace torchgen
