// The addon's entry point: registers the native functions and the per-environment state.
#include <napi.h>

#include "../core/failure.h"
#include "../core/runtime_info.h"
#include "addon_model.h"
#include "addon_state.h"
#include "convert.h"
#include "load_worker.h"

namespace torchgen {

AddonState& GetAddonState(Napi::Env env) { return *env.GetInstanceData<AddonState>(); }

namespace {

// runtimeInfo() -> { torchVersion, cudaBuild, cudaAvailable, cudaDeviceCount, cpuThreads }
Napi::Value RuntimeInfoJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RuntimeInfo runtime;
  auto failure = Guarded("runtimeInfo", codes::kInternal, [&] { runtime = QueryRuntimeInfo(); });
  if (failure) throw MakeError(env, *failure);
  return RuntimeInfoToJs(env, runtime);
}

// loadModel(spec, onEvents) -> Promise<AddonModel>
Napi::Value LoadModelJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    throw Napi::TypeError::New(env, "loadModel(spec, onEvents) expects an object and a function");
  }
  ModelSpec spec = ReadModelSpec(info[0].As<Napi::Object>());
  auto* worker = new LoadWorker(env, std::move(spec), info[1].As<Napi::Function>());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* state = new AddonState();
  env.SetInstanceData<AddonState>(state);
  state->model_constructor = Napi::Persistent(AddonModel::DefineClass(env));
  // Engine threads must not outlive the environment they report to (process exit, worker termination).
  env.AddCleanupHook([state] {
    for (AddonModel* model : state->live_models) model->StopEngineNow();
  });
  exports.Set("runtimeInfo", Napi::Function::New<RuntimeInfoJs>(env, "runtimeInfo"));
  exports.Set("loadModel", Napi::Function::New<LoadModelJs>(env, "loadModel"));
  return exports;
}

}  // namespace torchgen

// NODE_API_MODULE pastes tokens onto the function's name, so it needs an unqualified one.
static Napi::Object InitTorchGen(Napi::Env env, Napi::Object exports) { return torchgen::Init(env, exports); }
NODE_API_MODULE(torch_gen, InitTorchGen)
