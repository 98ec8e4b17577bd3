// Converts between JavaScript values and the core's plain structs. Runs on the JavaScript thread only.
#pragma once

#include <napi.h>

#include <vector>

#include "../core/engine.h"
#include "../core/failure.h"
#include "../core/model_spec.h"
#include "../core/onednn_isa.h"
#include "../core/runtime_info.h"

namespace torchgen {

// Each throws a JavaScript TypeError naming the field when a value has the wrong type or range; the
// TypeScript layer validates first, so these guard callers that bypass it.
ModelSpec ReadModelSpec(const Napi::Object& object);
GenerationRequest ReadGenerationRequest(const Napi::Object& object);
SamplingParams ReadSamplingParams(const Napi::Object& object);
std::vector<int64_t> ReadTokenIds(const Napi::Object& object, const char* key);

Napi::Object RuntimeInfoToJs(Napi::Env env, const RuntimeInfo& info);
// { value, source }: null for each when uncapped.
Napi::Object OneDnnIsaCapToJs(Napi::Env env, const OneDnnIsaCap& cap);
Napi::Object StatsToJs(Napi::Env env, const EngineStats& stats);
Napi::Array EventsToJs(Napi::Env env, const std::vector<TokenEvent>& events);

// A JavaScript Error whose `code` property is the failure's code.
Napi::Error MakeError(Napi::Env env, const Failure& failure);

}  // namespace torchgen
