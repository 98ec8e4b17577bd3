#include "load_worker.h"

#include "../core/backend_settings.h"
#include "../core/engine.h"
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
  failure_ = Guarded("loading the model failed", codes::kModelLoad,
                     [&] {
                       ApplyBackendSettings(ResolveDevice(spec_.device));
                       engine_ = std::make_unique<Engine>(Model::Load(spec_));
                     });
}

void LoadWorker::OnOK() {
  Napi::Env env = Env();
  if (failure_) {
    deferred_.Reject(MakeError(env, *failure_).Value());
    return;
  }
  try {
    // The constructor takes the engine out of this External; whatever it leaves is freed with engine_.
    auto external = Napi::External<std::unique_ptr<Engine>>::New(env, &engine_);
    Napi::Object handle = GetAddonState(env).model_constructor.New({external, on_events_.Value()});
    deferred_.Resolve(handle);
  } catch (const Napi::Error& error) {
    deferred_.Reject(error.Value());
  }
}

}  // namespace torchgen
