#include "load_worker.h"

#include "../core/model.h"
#include "addon_state.h"
#include "convert.h"

namespace torchgen {

LoadWorker::LoadWorker(Napi::Env env, ModelSpec spec, Napi::Function on_events)
    : Napi::AsyncWorker(env, "torch-gen:load"),
      spec_(std::move(spec)),
      on_events_(Napi::Persistent(on_events)),
      deferred_(Napi::Promise::Deferred::New(env)) {}

void LoadWorker::Execute() {
  failure_ = Guarded("loading the model failed", codes::kModelLoad, [&] { model_ = Model::Load(spec_); });
}

void LoadWorker::OnOK() {
  Napi::Env env = Env();
  if (failure_) {
    deferred_.Reject(MakeError(env, *failure_).Value());
    return;
  }
  try {
    // The constructor takes the model out of this External; whatever it leaves is freed with model_.
    auto external = Napi::External<std::unique_ptr<Model>>::New(env, &model_);
    Napi::Object handle = GetAddonState(env).model_constructor.New({external, on_events_.Value()});
    deferred_.Resolve(handle);
  } catch (const Napi::Error& error) {
    deferred_.Reject(error.Value());
  }
}

}  // namespace torchgen
