// Loads a model and allocates its engine's cache off the JavaScript thread (reading weights, the probe
// forward and the cache take seconds), then resolves with its AddonModel.
#pragma once

#include <napi.h>

#include <memory>
#include <optional>

#include "../core/failure.h"
#include "../core/model_spec.h"

namespace torchgen {

class Engine;

class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, ModelSpec spec, Napi::Function on_events);
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override;
  void OnOK() override;

 private:
  ModelSpec spec_;
  Napi::FunctionReference on_events_;
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<Engine> engine_;
  std::optional<Failure> failure_;
};

}  // namespace torchgen
