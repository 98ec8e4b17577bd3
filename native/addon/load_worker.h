// Loads a model and allocates its engine's cache off the JavaScript thread (reading weights, the probe
// forward and the cache take seconds), then resolves with its AddonModel.
#pragma once

#include <napi.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../core/failure.h"
#include "../core/model_spec.h"
#include "addon_constraint.h"

namespace torchgen {

class Engine;

class LoadWorker : public Napi::AsyncWorker {
 public:
  // `tokenizer_json` and `eos_token_ids` give the grammar engine its vocabulary ('' for none).
  LoadWorker(Napi::Env env, ModelSpec spec, std::string tokenizer_json, std::vector<int64_t> eos_token_ids,
             Napi::Function on_events);
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override;
  void OnOK() override;

 private:
  ModelSpec spec_;
  std::string tokenizer_json_;
  std::vector<int64_t> eos_token_ids_;
  ModelGrammar grammar_;
  Napi::FunctionReference on_events_;
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<Engine> engine_;
  std::optional<Failure> failure_;
};

}  // namespace torchgen
