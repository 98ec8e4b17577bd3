#include "convert.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "../core/grammar_vocabulary.h"
#include "option_bounds.h"

namespace torchgen {
namespace {

using option_bounds::IntegerBounds;
using option_bounds::NumberBounds;

[[noreturn]] void ThrowType(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, "torch-gen native: " + message);
}

bool ReadBoolean(const Napi::Object& object, const char* key) {
  Napi::Value value = object.Get(key);
  if (!value.IsBoolean()) ThrowType(object.Env(), std::string("expected a boolean for `") + key + "`");
  return value.As<Napi::Boolean>().Value();
}

std::string ReadString(const Napi::Object& object, const char* key) {
  Napi::Value value = object.Get(key);
  if (!value.IsString()) ThrowType(object.Env(), std::string("expected a string for `") + key + "`");
  return value.As<Napi::String>().Utf8Value();
}

// What a value outside its range is told: which value (an array's element by its index), the range, and
// what it was.
std::string RangeMessage(const std::string& name, int64_t min, int64_t max, const std::string& received) {
  return "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "] for `" + name +
         "`, received " + received;
}

// Integers arrive as JS numbers; anything fractional, non-finite or out of [min, max] is refused rather
// than silently truncated.
int64_t ReadInteger(Napi::Env env, const Napi::Value& value, const std::string& name, int64_t min, int64_t max) {
  if (!value.IsNumber()) ThrowType(env, "expected an integer for `" + name + "`");
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(number) || std::floor(number) != number || number < static_cast<double>(min) ||
      number > static_cast<double>(max)) {
    ThrowType(env, RangeMessage(name, min, max, value.ToString().Utf8Value()));
  }
  return static_cast<int64_t>(number);
}

int64_t ReadInteger(const Napi::Object& object, const char* key, int64_t min, int64_t max) {
  return ReadInteger(object.Env(), object.Get(key), key, min, max);
}

// An option's value, within the bounds lib/option-table.ts gives it (option_bounds.h is generated from it).
int64_t ReadInteger(const Napi::Object& object, const char* key, IntegerBounds bounds) {
  return ReadInteger(object, key, bounds.min, bounds.max);
}

std::string FormatNumber(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::vector<int64_t> ReadIntegerArray(const Napi::Object& object, const char* key, int64_t max) {
  Napi::Env env = object.Env();
  Napi::Value value = object.Get(key);
  std::vector<int64_t> result;
  if (value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    auto array = value.As<Napi::Int32Array>();
    result.reserve(array.ElementLength());
    for (size_t i = 0; i < array.ElementLength(); ++i) {
      if (array[i] < 0 || array[i] > max) {
        ThrowType(env, RangeMessage(std::string(key) + "[" + std::to_string(i) + "]", 0, max, std::to_string(array[i])));
      }
      result.push_back(array[i]);
    }
    return result;
  }
  if (!value.IsArray()) ThrowType(env, std::string("expected an array of integers or an Int32Array for `") + key + "`");
  auto array = value.As<Napi::Array>();
  result.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    result.push_back(ReadInteger(env, array.Get(i), std::string(key) + "[" + std::to_string(i) + "]", 0, max));
  }
  return result;
}

// A string field that names one of two values; anything else is a TypeError listing both.
template <typename Value>
Value ReadChoice(const Napi::Object& object, const char* key, const char* first, Value first_value,
                 const char* second, Value second_value) {
  const std::string name = ReadString(object, key);
  if (name == first) return first_value;
  if (name != second) {
    ThrowType(object.Env(), std::string("`") + key + "` must be '" + first + "' or '" + second + "', received '" +
                                name + "'");
  }
  return second_value;
}

}  // namespace

ModelSpec ReadModelSpec(const Napi::Object& object) {
  constexpr int64_t kMaxDimension = int64_t{1} << 31;
  ModelSpec spec;
  spec.model_path = ReadString(object, "modelPath");
  spec.module_format =
      ReadChoice(object, "moduleFormat", "torchscript", ModuleFormat::kTorchScript, "aoti", ModuleFormat::kAoti);
  spec.interface =
      ReadChoice(object, "interface", "logits", ModelInterface::kLogits, "kv-cache", ModelInterface::kKvCache);
  spec.vocab_size = ReadInteger(object, "vocabSize", 1, kMaxDimension);
  spec.max_context = ReadInteger(object, "maxContext", 2, kMaxDimension);
  spec.num_layers = ReadInteger(object, "numLayers", 0, 4096);
  spec.num_kv_heads = ReadInteger(object, "numKvHeads", 0, 4096);
  spec.head_dim = ReadInteger(object, "headDim", 0, 65536);
  spec.max_batch = ReadInteger(object, "maxBatch", option_bounds::kMaxBatch);
  // The logits interface has no cache to batch over; lib/load-model.ts plans 1, and the engine relies on it.
  if (spec.interface == ModelInterface::kLogits && spec.max_batch != 1) {
    ThrowType(object.Env(), "`maxBatch` must be 1 for the logits interface (it decodes one request at a time), received " +
                                std::to_string(spec.max_batch));
  }
  spec.max_queue = ReadInteger(object, "maxQueue", option_bounds::kMaxQueue);
  spec.prefill_chunk = ReadInteger(object, "prefillChunk", option_bounds::kPrefillChunk);
  spec.prefix_cache_bytes = ReadInteger(object, "prefixCacheMiB", option_bounds::kPrefixCacheMiB) << 20;
  spec.device = ReadString(object, "device");
  spec.dtype = ReadString(object, "dtype");
  spec.cuda_graphs = ReadBoolean(object, "cudaGraphs");
  spec.cuda_graph_batch_sizes = ReadIntegerArray(object, "cudaGraphBatchSizes", spec.max_batch);
  spec.threads = ReadInteger(object, "threads", option_bounds::kThreads);
  spec.optimize_graph = ReadBoolean(object, "optimizeGraph");
  return spec;
}

GenerationRequest ReadGenerationRequest(const Napi::Object& object) {
  constexpr int64_t kMaxTokenId = std::numeric_limits<int32_t>::max();
  GenerationRequest request;
  request.prompt = ReadIntegerArray(object, "tokens", kMaxTokenId);
  request.max_tokens = ReadInteger(object, "maxTokens", option_bounds::kMaxTokens);
  request.stop_token_ids = ReadIntegerArray(object, "stopTokenIds", kMaxTokenId);
  Napi::Value sampling = object.Get("sampling");
  if (!sampling.IsObject()) ThrowType(object.Env(), "expected an object for `sampling`");
  request.sampling = ReadSamplingParams(sampling.As<Napi::Object>());
  return request;
}

std::vector<int64_t> ReadTokenIds(const Napi::Object& object, const char* key) {
  return ReadIntegerArray(object, key, std::numeric_limits<int32_t>::max());
}

SamplingParams ReadSamplingParams(const Napi::Object& object) {
  Napi::Env env = object.Env();
  auto number = [&](const char* key, NumberBounds bounds) {
    Napi::Value value = object.Get(key);
    if (!value.IsNumber()) ThrowType(env, std::string("expected a number for `sampling.") + key + "`");
    const double number = value.As<Napi::Number>().DoubleValue();
    const bool above_min = bounds.min_exclusive ? number > bounds.min : number >= bounds.min;
    if (!std::isfinite(number) || !above_min || number > bounds.max) {
      ThrowType(env, std::string("`sampling.") + key + "` must be in " + (bounds.min_exclusive ? "(" : "[") +
                         FormatNumber(bounds.min) + ", " + FormatNumber(bounds.max) + "], received " +
                         value.ToString().Utf8Value());
    }
    return number;
  };
  SamplingParams params;
  params.temperature = number("temperature", option_bounds::kTemperature);
  params.top_k = ReadInteger(object, "topK", option_bounds::kTopK);
  params.top_p = number("topP", option_bounds::kTopP);
  params.min_p = number("minP", option_bounds::kMinP);
  params.repetition_penalty = number("repetitionPenalty", option_bounds::kRepetitionPenalty);
  params.presence_penalty = number("presencePenalty", option_bounds::kPresencePenalty);
  params.frequency_penalty = number("frequencyPenalty", option_bounds::kFrequencyPenalty);
  // Seeds are integers below 2^53 so that a JavaScript number holds them exactly.
  params.seed = static_cast<uint64_t>(ReadInteger(object, "seed", option_bounds::kSeed));
  params.logprobs = ReadInteger(object, "logprobs", option_bounds::kLogprobs);
  return params;
}

Napi::Object OneDnnIsaCapToJs(Napi::Env env, const OneDnnIsaCap& cap) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("value", cap.value.empty() ? env.Null() : Napi::String::New(env, cap.value));
  object.Set("source", cap.source.empty() ? env.Null() : Napi::String::New(env, cap.source));
  return object;
}

Napi::Object RuntimeInfoToJs(Napi::Env env, const RuntimeInfo& info) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("torchVersion", info.torch_version);
  object.Set("cudaBuild", info.cuda_build);
  object.Set("cudaAvailable", info.cuda_available);
  object.Set("cudaDeviceCount", static_cast<double>(info.cuda_device_count));
  object.Set("cpuThreads", static_cast<double>(info.cpu_threads));
  object.Set("cudaGraphsBuilt", info.cuda_graphs_built);
  Napi::Object backend = Napi::Object::New(env);
  backend.Set("executor", info.backend.executor);
  backend.Set("gpuFuser", info.backend.gpu_fuser);
  backend.Set("cpuFuser", info.backend.cpu_fuser);
  Napi::Array sdpa = Napi::Array::New(env, info.backend.sdpa.size());
  for (uint32_t i = 0; i < info.backend.sdpa.size(); ++i) sdpa.Set(i, info.backend.sdpa[i]);
  backend.Set("sdpa", sdpa);
  backend.Set("onednnLinear", info.backend.onednn_linear);
  backend.Set("onednnIsaCap", OneDnnIsaCapToJs(env, info.backend.onednn_isa_cap));
  object.Set("backend", backend);
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("avx2", info.cpu_avx2);
  cpu.Set("avx512", info.cpu_avx512);
  cpu.Set("avx512Vnni", info.cpu_avx512_vnni);
  cpu.Set("avx512Bf16", info.cpu_avx512_bf16);
  cpu.Set("amx", info.cpu_amx);
  object.Set("cpuFeatures", cpu);
  object.Set("grammarEngine", GrammarEngineName());
  return object;
}

Napi::Object StatsToJs(Napi::Env env, const EngineStats& stats) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("active", static_cast<double>(stats.active));
  object.Set("queued", static_cast<double>(stats.queued));
  object.Set("tokensGenerated", static_cast<double>(stats.tokens_generated));
  object.Set("promptTokens", static_cast<double>(stats.prompt_tokens));
  object.Set("requestsFinished", static_cast<double>(stats.requests_finished));
  object.Set("cacheBytes", static_cast<double>(stats.cache_bytes));
  object.Set("weightBytes", static_cast<double>(stats.weight_bytes));
  object.Set("parameters", static_cast<double>(stats.parameters));
  object.Set("deviceAllocatedBytes", static_cast<double>(stats.device_memory.allocated_bytes));
  object.Set("devicePeakBytes", static_cast<double>(stats.device_memory.peak_allocated_bytes));
  object.Set("deviceReservedBytes", static_cast<double>(stats.device_memory.reserved_bytes));
  object.Set("cudaGraphsCaptured", static_cast<double>(stats.cuda_graphs_captured));
  if (!stats.cuda_graphs_off.empty()) object.Set("cudaGraphsOff", stats.cuda_graphs_off);
  object.Set("deviceFedSteps", static_cast<double>(stats.device_fed_steps));
  object.Set("threads", static_cast<double>(stats.threads));
  object.Set("graphNodes", static_cast<double>(stats.graph_nodes));
  object.Set("graphOptimization", stats.graph_optimization);
  Napi::Object prefix = Napi::Object::New(env);
  prefix.Set("bytes", static_cast<double>(stats.prefix_cache_bytes));
  prefix.Set("blockTokens", static_cast<double>(stats.prefix_cache.block_tokens));
  prefix.Set("capacityBlocks", static_cast<double>(stats.prefix_cache.capacity_blocks));
  prefix.Set("cachedTokens", static_cast<double>(stats.prefix_cache.cached_tokens));
  prefix.Set("hits", static_cast<double>(stats.prefix_cache.hits));
  prefix.Set("hitTokens", static_cast<double>(stats.prefix_cache.hit_tokens));
  prefix.Set("evictions", static_cast<double>(stats.prefix_cache.evictions));
  object.Set("prefixCache", prefix);
  return object;
}

Napi::Array EventsToJs(Napi::Env env, const std::vector<TokenEvent>& events) {
  Napi::Array array = Napi::Array::New(env, events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const TokenEvent& event = events[i];
    Napi::Object object = Napi::Object::New(env);
    object.Set("requestId", static_cast<double>(event.request_id));
    Napi::Array tokens = Napi::Array::New(env, event.token_ids.size());
    for (size_t t = 0; t < event.token_ids.size(); ++t) {
      tokens.Set(static_cast<uint32_t>(t), static_cast<double>(event.token_ids[t]));
    }
    object.Set("tokenIds", tokens);
    if (!event.logprobs.empty()) {
      Napi::Array logprobs = Napi::Array::New(env, event.logprobs.size());
      for (size_t t = 0; t < event.logprobs.size(); ++t) {
        const SampledToken& sampled = event.logprobs[t];
        Napi::Object entry = Napi::Object::New(env);
        entry.Set("logprob", static_cast<double>(sampled.logprob));
        Napi::Array top = Napi::Array::New(env, sampled.top.size());
        for (size_t k = 0; k < sampled.top.size(); ++k) {
          Napi::Object alternative = Napi::Object::New(env);
          alternative.Set("tokenId", static_cast<double>(sampled.top[k].first));
          alternative.Set("logprob", static_cast<double>(sampled.top[k].second));
          top.Set(static_cast<uint32_t>(k), alternative);
        }
        entry.Set("top", top);
        logprobs.Set(static_cast<uint32_t>(t), entry);
      }
      object.Set("logprobs", logprobs);
    }
    if (event.finish != FinishReason::kNone) object.Set("finishReason", FinishReasonName(event.finish));
    if (event.finish == FinishReason::kError) {
      object.Set("errorCode", event.error_code);
      object.Set("errorMessage", event.error_message);
    }
    array.Set(static_cast<uint32_t>(i), object);
  }
  return array;
}

Napi::Error MakeError(Napi::Env env, const Failure& failure) {
  Napi::Error error = Napi::Error::New(env, failure.message);
  error.Set("code", failure.code);
  return error;
}

}  // namespace torchgen
