#include "dispose_worker.h"

#include "addon_model.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace torchgen {

DisposeWorker::DisposeWorker(Napi::Env env, AddonModel* model)
    : Napi::AsyncWorker(env, "torch-gen:dispose"), model_(model) {}

void DisposeWorker::Execute() {
  // Stop() emits the abort events of everything in flight before the thread ends; reset() frees the
  // module and its device memory.
  model_->engine_->Stop();
  model_->engine_.reset();
#if defined(__GLIBC__)
  // glibc keeps freed weights in its per-thread arenas; without this, loading models again and again on
  // different pool threads grows the process by a model's size each time until every arena holds one.
  malloc_trim(0);
#endif
}

void DisposeWorker::OnOK() {
  // Closing the thread-safe function delivers the events still queued, then calls OnChannelClosed,
  // which resolves dispose(). Referenced so the process waits for that.
  model_->events_.Ref(Env());
  model_->events_.Release();
}

}  // namespace torchgen
