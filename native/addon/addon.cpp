// The addon's entry point: registers the native functions and the per-environment state.
#include <napi.h>

#include <cstring>

#include "../core/failure.h"
#include "../core/onednn_isa.h"
#include "../core/runtime_info.h"
#include "../core/sampler.h"

#include <ATen/ATen.h>
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
  Napi::Object object = info[0].As<Napi::Object>();
  ModelSpec spec = ReadModelSpec(object);
  // The grammar engine's vocabulary: optional, so that a spec without it loads a model without constraints.
  std::string tokenizer_json = object.Get("tokenizerPath").IsString() ? object.Get("tokenizerPath").As<Napi::String>().Utf8Value() : "";
  std::vector<int64_t> eos = object.Has("eosTokenIds") ? ReadTokenIds(object, "eosTokenIds") : std::vector<int64_t>{};
  auto* worker = new LoadWorker(env, std::move(spec), std::move(tokenizer_json), std::move(eos), info[1].As<Napi::Function>());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// fixOneDnnIsaCap(wanted: string) -> { value, source }: called by loadModel for a CPU model, synchronously,
// before the load starts (native/core/onednn_isa.h); '' asks for no cap.
Napi::Value FixOneDnnIsaCapJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "fixOneDnnIsaCap(wanted) expects a string");
  return OneDnnIsaCapToJs(env, FixOneDnnIsaCap(info[0].As<Napi::String>().Utf8Value()));
}

}  // namespace

// _processLogits(logits: Float32Array, vocab, rows: [{ sampling, prompt, generated }]) -> Float32Array
// The sampler's logit processing on the CPU, for tests that compare it with Hugging Face's processors.
Napi::Value ProcessLogitsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsArray()) {
    throw Napi::TypeError::New(env, "_processLogits(logits: Float32Array, vocab: number, rows: object[])");
  }
  auto input = info[0].As<Napi::Float32Array>();
  const auto vocab = static_cast<int64_t>(info[1].As<Napi::Number>().Int64Value());
  auto js_rows = info[2].As<Napi::Array>();
  const auto batch = static_cast<int64_t>(js_rows.Length());
  if (vocab <= 0 || static_cast<int64_t>(input.ElementLength()) != batch * vocab) {
    throw Napi::TypeError::New(env, "_processLogits: logits must hold rows.length x vocab values");
  }
  std::vector<SamplingParams> params(batch);
  std::vector<std::vector<int64_t>> prompts(batch), generated(batch);
  std::vector<SamplerRow> rows(batch);
  for (int64_t i = 0; i < batch; ++i) {
    Napi::Value value = js_rows.Get(static_cast<uint32_t>(i));
    if (!value.IsObject()) throw Napi::TypeError::New(env, "_processLogits: each row is an object");
    Napi::Object row = value.As<Napi::Object>();
    params[i] = ReadSamplingParams(row.Get("sampling").As<Napi::Object>());
    prompts[i] = ReadTokenIds(row, "prompt");
    generated[i] = ReadTokenIds(row, "generated");
    for (int64_t id : prompts[i]) if (id >= vocab) throw Napi::TypeError::New(env, "_processLogits: id >= vocab");
    for (int64_t id : generated[i]) if (id >= vocab) throw Napi::TypeError::New(env, "_processLogits: id >= vocab");
    rows[i] = {&params[i], &prompts[i], &generated[i], static_cast<int64_t>(generated[i].size())};
  }
  at::Tensor processed;
  auto failure = Guarded("_processLogits", codes::kInternal, [&] {
    c10::InferenceMode guard;
    at::Tensor logits = at::from_blob(input.Data(), {batch, vocab}, at::kFloat).clone();
    processed = ProcessLogits(logits, rows).contiguous();
  });
  if (failure) throw MakeError(env, *failure);
  auto output = Napi::Float32Array::New(env, static_cast<size_t>(batch * vocab));
  std::memcpy(output.Data(), processed.data_ptr<float>(), sizeof(float) * static_cast<size_t>(batch * vocab));
  return output;
}

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
  exports.Set("fixOneDnnIsaCap", Napi::Function::New<FixOneDnnIsaCapJs>(env, "fixOneDnnIsaCap"));
  exports.Set("_processLogits", Napi::Function::New<ProcessLogitsJs>(env, "_processLogits"));
  return exports;
}

}  // namespace torchgen

// NODE_API_MODULE pastes tokens onto the function's name, so it needs an unqualified one.
static Napi::Object InitTorchGen(Napi::Env env, Napi::Object exports) { return torchgen::Init(env, exports); }
NODE_API_MODULE(torch_gen, InitTorchGen)
