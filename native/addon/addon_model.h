// The JavaScript handle of a loaded model and its engine. Users never see it: lib/model.ts wraps it.
#pragma once

#include <napi.h>

#include <memory>
#include <optional>
#include <unordered_set>
#include <vector>

#include "../core/engine.h"
#include "addon_constraint.h"

namespace torchgen {

class Model;

class AddonModel : public Napi::ObjectWrap<AddonModel> {
 public:
  static Napi::Function DefineClass(Napi::Env env);

  // Called from LoadWorker only: info[0] is an External holding the loaded Engine (not yet started),
  // info[1] the function that receives every batch of events, info[2] an External of its ModelGrammar.
  explicit AddonModel(const Napi::CallbackInfo& info);
  ~AddonModel() override;

  // Stops the engine without going through JavaScript (environment teardown).
  void StopEngineNow();

 private:
  // The context of the thread-safe function. It outlives the AddonModel when the object is collected
  // while events are still queued, so the callback reaches the model only through `owner`.
  struct EventChannel {
    AddonModel* owner = nullptr;
  };
  using EventBatch = std::vector<TokenEvent>;
  static void DeliverEvents(Napi::Env env, Napi::Function callback, EventChannel* channel, EventBatch* batch);
  static void OnChannelClosed(Napi::Env env, void* unused, EventChannel* channel);
  using EventsFunction = Napi::TypedThreadSafeFunction<EventChannel, EventBatch, DeliverEvents>;

  // generate({ tokens, maxTokens, stopTokenIds, sampling }) -> request id
  Napi::Value Generate(const Napi::CallbackInfo& info);
  // compileConstraint(kind, source) -> Promise<External> (addon_constraint.h)
  Napi::Value CompileConstraintJs(const Napi::CallbackInfo& info);
  // cancel(requestId)
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  // stats() -> EngineStats as StatsToJs (convert.cpp) writes them
  Napi::Value Stats(const Napi::CallbackInfo& info);
  // stopNow(): stops the engine thread at once, synchronously (lib/exit-guard.ts calls it on process.exit()).
  Napi::Value StopNow(const Napi::CallbackInfo& info);
  // dispose() -> Promise<void>, resolved after the last event was delivered and the memory freed.
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  void OnRequestsFinished(Napi::Env env, const EventBatch& batch);
  void OnDisposed(Napi::Env env);
  friend class DisposeWorker;

  std::unique_ptr<Engine> engine_;
  ModelGrammar grammar_;  // constrained decoding: the vocabulary in the grammar engine, or why there is none
  EventsFunction events_;
  EventChannel* channel_ = nullptr;  // owned by events_, deleted when it closes
  uint64_t next_request_id_ = 1;
  // Requests whose final event has not reached JavaScript yet. While any is open, the object and the
  // thread-safe function are referenced, so neither the GC nor the event loop lets go of them.
  std::unordered_set<uint64_t> open_requests_;
  bool disposing_ = false;
  std::optional<Napi::Promise::Deferred> dispose_deferred_;
};

}  // namespace torchgen
