// What the addon needs to know to load a model: the manifest's fields, validated and normalised by the
// TypeScript layer (lib/manifest.ts), plus the user's device and dtype. Concrete values only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sampling_params.h"

namespace torchgen {

class Constraint;

enum class ModelInterface { kLogits, kKvCache };

// What model_path holds: a TorchScript module (model.pt) or an AOTInductor package (model.pt2, kv-cache only).
enum class ModuleFormat { kTorchScript, kAoti };

struct ModelSpec {
  std::string model_path;  // the model.pt (or model.pt2) file
  ModuleFormat module_format = ModuleFormat::kTorchScript;
  ModelInterface interface = ModelInterface::kLogits;
  int64_t vocab_size = 0;
  int64_t max_context = 0;
  // Cache geometry; used by the kv-cache interface only.
  int64_t num_layers = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  // The KV-cache pool: how many requests decode together, and the tokens each can hold (<= the
  // manifest's max_context, which max_context above already is). Always 1 for the logits interface, which
  // decodes one request at a time (lib/load-model.ts plans it, convert.cpp refuses anything else).
  int64_t max_batch = 1;
  int64_t max_queue = 1024;      // requests waiting for a slot; more are refused (ERR_QUEUE_FULL)
  int64_t prefill_chunk = 256;   // prompt tokens per engine step, so running requests keep decoding
  // Memory kept for the keys and values of prompt prefixes (prefix_cache.h); 0 turns prefix caching off.
  // Resolved by lib/options.ts. Used by the kv-cache interface only.
  int64_t prefix_cache_bytes = 0;
  std::string device;  // "cpu", "cuda", "cuda:1"
  std::string dtype;   // compute dtype: "float32", "float16", "bfloat16"
  bool cuda_graphs = true;  // replay the decode step as CUDA graphs (CUDA devices, kv-cache interface)
  // The batch sizes whose graphs are captured at load (each in [1, max_batch]); a step pads up to the next.
  std::vector<int64_t> cuda_graph_batch_sizes;
  // CPU threads of this model's forward passes (libtorch's intra-op pool, set on the engine thread: OpenMP's
  // thread count is per calling thread, so each engine has its own). Resolved by lib/options.ts.
  int64_t threads = 1;
  // Freeze the TorchScript module and run optimize_for_inference at load (CPU only; see inference_graph.h).
  bool optimize_graph = true;
};

// One generation request, as the engine sees it.
struct GenerationRequest {
  uint64_t id = 0;
  std::vector<int64_t> prompt;  // token ids, each < vocab_size, non-empty
  int64_t max_tokens = 0;       // >= 1
  std::vector<int64_t> stop_token_ids;
  SamplingParams sampling;
  // Constrained decoding (the responseFormat option): this request's grammar state, null for free text.
  std::shared_ptr<Constraint> constraint;
};

}  // namespace torchgen
