#include "addon_model.h"

#include <cstdio>
#include <utility>

#include "../core/model.h"
#include "addon_state.h"
#include "convert.h"
#include "dispose_worker.h"

namespace torchgen {

Napi::Function AddonModel::DefineClass(Napi::Env env) {
  return ObjectWrap<AddonModel>::DefineClass(env, "AddonModel",
                                             {
                                                 InstanceMethod<&AddonModel::Generate>("generate"),
                                                 InstanceMethod<&AddonModel::CompileConstraintJs>("compileConstraint"),
                                                 InstanceMethod<&AddonModel::Cancel>("cancel"),
                                                 InstanceMethod<&AddonModel::Stats>("stats"),
                                                 InstanceMethod<&AddonModel::StopNow>("stopNow"),
                                                 InstanceMethod<&AddonModel::Dispose>("dispose"),
                                             });
}

AddonModel::AddonModel(const Napi::CallbackInfo& info) : ObjectWrap<AddonModel>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsExternal() || !info[1].IsFunction() || !info[2].IsExternal()) {
    throw Napi::TypeError::New(env, "AddonModel cannot be constructed directly; use loadModel()");
  }
  grammar_ = *info[2].As<Napi::External<ModelGrammar>>().Data();
  auto* loaded = info[0].As<Napi::External<std::unique_ptr<Engine>>>().Data();
  if (loaded == nullptr || !*loaded) throw Napi::Error::New(env, "AddonModel: the loaded engine was already taken");

  channel_ = new EventChannel{this};
  events_ = EventsFunction::New(env, info[1].As<Napi::Function>(), "torch-gen:events", 0, 1, channel_,
                                &AddonModel::OnChannelClosed, static_cast<void*>(nullptr));
  // An idle model must not keep the process alive; Generate() references it while requests are open.
  events_.Unref(env);

  EventsFunction events = events_;
  engine_ = std::move(*loaded);
  engine_->Start([events](std::vector<TokenEvent>&& batch) mutable {
    auto* heap_batch = new EventBatch(std::move(batch));
    // Fails only while the function is closing (dispose or teardown); then nobody waits for the events.
    if (events.NonBlockingCall(heap_batch) != napi_ok) delete heap_batch;
  });
  GetAddonState(env).live_models.insert(this);
}

AddonModel::~AddonModel() {
  if (channel_ != nullptr) channel_->owner = nullptr;
  GetAddonState(Env()).live_models.erase(this);
  if (engine_) {
    // Collected without dispose(): free the engine here. No request is open (they reference the object),
    // so stopping an idle engine takes no time. A finalizer may not call into JavaScript, hence stderr
    // rather than process.emitWarning.
    std::fprintf(stderr,
                 "(torch-gen) warning: a model was garbage-collected without dispose(); its engine was stopped and "
                 "its memory freed now. Call model.dispose() (or use `await using`) to free it when you choose.\n");
    engine_->Stop();
    engine_.reset();
    events_.Release();
  }
}

void AddonModel::StopEngineNow() {
  // The environment closes the thread-safe function itself; the destructor must not touch it after this.
  if (engine_) {
    engine_->Stop();
    engine_.reset();
  }
}

Napi::Value AddonModel::Generate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (disposing_ || !engine_) throw MakeError(env, {codes::kDisposed, "the model has been disposed"});
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "generate() expects a request object");
  GenerationRequest request = ReadGenerationRequest(info[0].As<Napi::Object>());
  Napi::Value constraint = info[0].As<Napi::Object>().Get("constraint");
  if (!constraint.IsUndefined()) request.constraint = StartConstraint(env, constraint, grammar_);
  request.id = next_request_id_++;
  const uint64_t id = request.id;
  auto failure = Guarded("generate", codes::kInvalidArgument, [&] { engine_->Submit(std::move(request)); });
  if (failure) throw MakeError(env, *failure);
  if (open_requests_.empty()) {
    Ref();
    events_.Ref(env);
  }
  open_requests_.insert(id);
  return Napi::Number::New(env, static_cast<double>(id));
}

Napi::Value AddonModel::CompileConstraintJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (disposing_ || !engine_) throw MakeError(env, {codes::kDisposed, "the model has been disposed"});
  return CompileConstraint(env, grammar_, info[0], info[1]);
}

Napi::Value AddonModel::Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "cancel() expects a request id");
  const double id = info[0].As<Napi::Number>().DoubleValue();
  if (engine_ && !disposing_ && id >= 1) engine_->Cancel(static_cast<uint64_t>(id));
  return env.Undefined();
}

Napi::Value AddonModel::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (disposing_ || !engine_) return StatsToJs(env, EngineStats{});
  return StatsToJs(env, engine_->Stats());
}

Napi::Value AddonModel::StopNow(const Napi::CallbackInfo& info) {
  // process.exit() runs exit() without the environment's cleanup hooks; exit() then destroys libtorch's
  // static state, which a running engine thread still reads. Join the thread before that.
  StopEngineNow();
  return info.Env().Undefined();
}

Napi::Value AddonModel::Dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (dispose_deferred_) return dispose_deferred_->Promise();
  dispose_deferred_.emplace(Napi::Promise::Deferred::New(env));
  if (!engine_) {
    dispose_deferred_->Resolve(env.Undefined());
    return dispose_deferred_->Promise();
  }
  disposing_ = true;
  Ref();  // until OnDisposed
  (new DisposeWorker(env, this))->Queue();
  return dispose_deferred_->Promise();
}

void AddonModel::OnRequestsFinished(Napi::Env env, const EventBatch& batch) {
  if (open_requests_.empty()) return;
  for (const TokenEvent& event : batch) {
    if (event.finish != FinishReason::kNone) open_requests_.erase(event.request_id);
  }
  if (open_requests_.empty()) {
    events_.Unref(env);
    Unref();
  }
}

void AddonModel::DeliverEvents(Napi::Env env, Napi::Function callback, EventChannel* channel, EventBatch* batch) {
  std::unique_ptr<EventBatch> owned(batch);
  if (env == nullptr || channel == nullptr) return;  // the environment is being torn down
  Napi::Array events;
  try {
    events = EventsToJs(env, *owned);
  } catch (const Napi::Error&) {
    return;  // JavaScript can no longer run here (a worker being terminated): nobody awaits these events
  }
  // Bookkeeping before the callback, so a throwing callback cannot leave a request open forever.
  if (channel->owner != nullptr) channel->owner->OnRequestsFinished(env, *owned);
  try {
    callback.Call({events});
  } catch (const Napi::Error& error) {
    // lib/model.ts catches its own errors; anything else is a bug that must surface, not vanish. While
    // the environment shuts down even rethrowing fails, and then there is no one left to tell.
    try {
      error.ThrowAsJavaScriptException();
    } catch (...) {
    }
  }
}

void AddonModel::OnChannelClosed(Napi::Env env, void*, EventChannel* channel) {
  std::unique_ptr<EventChannel> owned(channel);
  if (owned->owner == nullptr) return;
  try {
    owned->owner->OnDisposed(env);
  } catch (const Napi::Error&) {
    // Closed by the environment's teardown: the dispose() promise has no one left to resolve it for.
  }
}

void AddonModel::OnDisposed(Napi::Env env) {
  channel_ = nullptr;
  if (dispose_deferred_) dispose_deferred_->Resolve(env.Undefined());
  if (disposing_) {
    disposing_ = false;
    Unref();
  }
}

}  // namespace torchgen
