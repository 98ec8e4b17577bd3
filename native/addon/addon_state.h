// Per-environment state of the addon (the main thread and each worker thread has its own): no globals.
#pragma once

#include <napi.h>

#include <unordered_set>

namespace torchgen {

class AddonModel;

struct AddonState {
  Napi::FunctionReference model_constructor;
  // Models whose engine may still run; stopped by the environment's cleanup hook at exit or when a
  // worker thread terminates, so no engine thread outlives the environment it reports to.
  std::unordered_set<AddonModel*> live_models;
};

AddonState& GetAddonState(Napi::Env env);

}  // namespace torchgen
