#include "model.h"

#include <algorithm>
#include <sstream>
#include <unordered_set>

#include <torch/cuda.h>

#include "failure.h"
#include "inference_graph.h"

namespace torchgen {
namespace {

// fbgemm's packed linear weights, as torch.ao's dynamically quantized Linear holds them.
constexpr const char* kPackedLinearClass = "__torch__.torch.classes.quantized.LinearPackedParamsBase";

std::string ShapeString(const at::Tensor& tensor) {
  std::ostringstream out;
  out << tensor.sizes();
  return out.str();
}

// What a user-traced module may return: a tensor, or a tuple/list whose first element is the logits
// (Hugging Face models traced with torchscript=True return tuples).
at::Tensor LogitsFromOutput(const c10::IValue& output) {
  if (output.isTensor()) return output.toTensor();
  if (output.isTuple()) {
    const auto& elements = output.toTupleRef().elements();
    if (!elements.empty() && elements[0].isTensor()) return elements[0].toTensor();
  }
  if (output.isList()) {
    auto list = output.toList();
    if (list.size() > 0 && list.get(0).isTensor()) return list.get(0).toTensor();
  }
  throw TorchGenError(codes::kModelLoad, "model.pt: forward did not return a tensor of logits (it returned " +
                                             output.tagKind() + ")");
}

void CheckFloatingPoint(const at::Tensor& logits) {
  if (!at::isFloatingType(logits.scalar_type())) {
    throw TorchGenError(codes::kModelLoad, "model.pt returned logits of dtype " +
                                               std::string(c10::toString(logits.scalar_type())) +
                                               "; a causal LM returns floating-point logits");
  }
}

std::string FullMessage(const std::exception& error) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&error);
  return torch_error != nullptr ? torch_error->what_without_backtrace() : error.what();
}

// Runs one load-time forward. torch-gen's own findings pass through; what the module raises becomes a load
// error that says what was being checked: `before (reason)after`. Out of memory and CUDA errors are the
// device's failures, not the model's: they keep their own code rather than blame the manifest.
template <typename Forward>
at::Tensor ProbeForward(const std::string& before, const std::string& after, Forward&& forward) {
  try {
    return forward();
  } catch (const TorchGenError&) {
    throw;
  } catch (const c10::OutOfMemoryError&) {
    throw;  // the device is full, the module is not wrong: the loader reports ERR_OUT_OF_MEMORY
  } catch (const std::exception& error) {
    const std::string full = FullMessage(error);
    const std::string reason = LastLine(ErrorSummary(full));
    const std::string code = CodeForMessage(full, codes::kModelLoad);
    if (code == codes::kOutOfMemory) {
      throw TorchGenError(code, "the load-time check ran out of memory (" + reason +
                                    "); free memory on the device, lower maxContext, or use a smaller model");
    }
    if (code == codes::kDevice) {
      throw TorchGenError(code, "the load-time check failed on the device (" + reason + ")" +
                                    (IsDeviceLost(full) ? "; this error leaves the GPU unusable in this process: "
                                                          "restart it (CUDA_LAUNCH_BLOCKING=1 names the failing kernel)"
                                                        : "; check the driver and the GPU with nvidia-smi"));
    }
    throw TorchGenError(code, before + " (" + reason + ")" + after);
  }
}

// forward's inputs without self, as "tokens: Tensor, mask: Tensor".
std::string Inputs(const c10::FunctionSchema& schema) {
  std::string inputs;
  for (size_t i = 1; i < schema.arguments().size(); ++i) {
    const c10::Argument& argument = schema.arguments()[i];
    inputs += (i > 1 ? ", " : "") + argument.name() + ": " + argument.type()->str();
  }
  return inputs;
}

// The manifest's interface fixes what forward is called with. A module that takes something else is named
// here, before anything runs, rather than by the interpreter's argument error.
void CheckSignature(const torch::jit::Module& module, ModelInterface interface) {
  const auto forward = module.find_method("forward");
  if (!forward) {
    throw TorchGenError(codes::kModelLoad, "model.pt has no forward method; export the causal LM module itself");
  }
  const c10::FunctionSchema& schema = forward->function().getSchema();
  const bool kv = interface == ModelInterface::kKvCache;
  const size_t passed = kv ? 5 : 1;  // inputs the engine passes, after self
  size_t required = 0;               // inputs up to the last one without a default
  for (size_t i = 1; i < schema.arguments().size(); ++i) {
    if (!schema.arguments()[i].default_value()) required = i;
  }
  if (schema.arguments().size() - 1 >= passed && required <= passed) return;
  throw TorchGenError(codes::kModelLoad,
                      "model.pt's forward takes (" + Inputs(schema) + ") but torch-gen.json says \"interface\": \"" +
                          (kv ? "kv-cache\", which calls forward(tokens, positions, k_cache, v_cache, kv_len)"
                              : "logits\", which calls forward(tokens)") +
                          "; set the interface the module implements, or re-export the model");
}

// After the probe forward, the two positions it wrote hold something in every layer, kv head and head-dim
// element the module has. What stays zero is cache the manifest declared and the module does not use (a real
// model's keys and values are never all exactly zero there).
void CheckCacheWritten(const KvCache& cache, const ModelSpec& spec) {
  const at::Tensor written =
      (cache.Keys(0, 1).ne(0) | cache.Values(0, 1).ne(0)).squeeze(1).cpu();  // [L, H_kv, 2, D] bool
  const int64_t layers = written.flatten(1).any(1).sum().item<int64_t>();
  const int64_t heads = written.transpose(0, 1).flatten(1).any(1).sum().item<int64_t>();
  const int64_t dims = written.flatten(0, 2).any(0).sum().item<int64_t>();
  const std::string fix = " in the load-time check; fix torch-gen.json or re-export the model";
  if (layers == 0) {
    throw TorchGenError(codes::kModelLoad,
                        "model.pt wrote nothing into the KV cache in the load-time check: a `kv-cache` module writes "
                        "each layer's keys and values in place; set \"interface\": \"logits\" in torch-gen.json "
                        "for a module without a cache");
  }
  if (layers < spec.num_layers) {
    throw TorchGenError(codes::kModelLoad, "torch-gen.json says num_layers " + std::to_string(spec.num_layers) +
                                               " but model.pt wrote keys and values for " + std::to_string(layers) +
                                               " layer(s)" + fix);
  }
  if (heads < spec.num_kv_heads) {
    throw TorchGenError(codes::kModelLoad, "torch-gen.json says num_kv_heads " + std::to_string(spec.num_kv_heads) +
                                               " but model.pt wrote keys and values for " + std::to_string(heads) +
                                               " kv head(s)" + fix);
  }
  if (dims < spec.head_dim) {
    throw TorchGenError(codes::kModelLoad, "torch-gen.json says head_dim " + std::to_string(spec.head_dim) +
                                               " but model.pt wrote " + std::to_string(dims) +
                                               " element(s) of each key and value" + fix);
  }
}

// Casts the module's floating-point parameters and buffers to `dtype`, as Python's Module.to(dtype)
// does. The C++ Module::to(dtype) casts every tensor, integer buffers included, which would turn the
// exporter's fixed-point RoPE frequencies (int64) into float16 garbage.
void CastFloatingPoint(torch::jit::Module& module, c10::ScalarType dtype) {
  auto cast = [dtype](at::Tensor tensor) {
    if (at::isFloatingType(tensor.scalar_type()) && tensor.scalar_type() != dtype) {
      tensor.set_data(tensor.to(dtype));  // in place: the module's slots keep pointing at this tensor
    }
  };
  for (const at::Tensor& parameter : module.parameters()) cast(parameter);
  for (const at::Tensor& buffer : module.buffers()) cast(buffer);
}

}  // namespace

c10::Device ResolveDevice(const std::string& device) {
  c10::Device parsed(c10::kCPU);
  try {
    parsed = c10::Device(device);
  } catch (const c10::Error&) {
    throw TorchGenError(codes::kDevice, "unknown device '" + device + "'; use 'cpu', 'cuda' or 'cuda:N'");
  }
  if (parsed.is_cpu()) return parsed;
  if (!parsed.is_cuda()) {
    throw TorchGenError(codes::kDevice, "device '" + device + "' is not supported; use 'cpu', 'cuda' or 'cuda:N'");
  }
  if (!torch::cuda::is_available()) {
    throw TorchGenError(codes::kDevice, "device '" + device +
                                            "' was requested but CUDA is not available (no NVIDIA driver or GPU "
                                            "found, or libtorch was built without CUDA); use device 'cpu'");
  }
  const auto count = static_cast<int64_t>(torch::cuda::device_count());
  const int64_t index = parsed.has_index() ? parsed.index() : 0;
  if (index >= count) {
    throw TorchGenError(codes::kDevice, "device '" + device + "' does not exist: this machine has " +
                                            std::to_string(count) + " CUDA device(s), cuda:0 to cuda:" +
                                            std::to_string(count - 1));
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

c10::ScalarType ResolveDtype(const std::string& dtype) {
  if (dtype == "float32") return c10::kFloat;
  if (dtype == "float16") return c10::kHalf;
  if (dtype == "bfloat16") return c10::kBFloat16;
  throw TorchGenError(codes::kInvalidArgument, "unknown dtype '" + dtype + "'; use float32, float16 or bfloat16");
}

std::unique_ptr<Model> Model::Load(const ModelSpec& spec) {
  const c10::Device device = ResolveDevice(spec.device);
  const c10::ScalarType dtype = ResolveDtype(spec.dtype);
  if (spec.module_format == ModuleFormat::kAoti) return LoadAoti(spec, device, dtype);
  torch::jit::Module module;
  try {
    module = torch::jit::load(spec.model_path, device);
    module.eval();
    CastFloatingPoint(module, dtype);
  } catch (const c10::OutOfMemoryError& error) {
    throw TorchGenError(codes::kOutOfMemory, "model.pt's weights do not fit in the memory of " + spec.device + " (" +
                                                 std::string(error.what_without_backtrace()) +
                                                 "); free memory on it, pick another device, or use a smaller model");
  } catch (const c10::Error& error) {
    throw TorchGenError(codes::kModelLoad, "model.pt could not be loaded as TorchScript (" +
                                               std::string(error.what_without_backtrace()) +
                                               "); export it with torch.jit.save or the torch-gen exporter");
  }
  std::unique_ptr<Model> model(new Model(spec, std::move(module), device, dtype));  // counts the weights
  PreparedGraph prepared = PrepareForInference(std::move(model->module_), device, dtype, spec.optimize_graph);
  model->module_ = std::move(prepared.module);
  model->graph_optimization_ = std::move(prepared.description);
  model->graph_nodes_ = CountGraphNodes(model->module_);
  // The probe runs the graph that will serve, so its first (profiling) runs are not a user's first request.
  model->Probe();
  return model;
}

std::unique_ptr<Model> Model::LoadAoti(const ModelSpec& spec, const c10::Device& device, c10::ScalarType dtype) {
  // lib/aoti.ts has matched the package's device, dtype, instruction set and torch version to this process.
  if (spec.interface != ModelInterface::kKvCache) {
    throw TorchGenError(codes::kModelLoad, "an AOTInductor package implements the `kv-cache` interface only; set "
                                           "\"interface\": \"kv-cache\" in torch-gen.json or re-export the model");
  }
  std::unique_ptr<Model> model(new Model(spec, AotiForward::Load(spec.model_path, device), device, dtype));
  model->Probe();
  return model;
}

Model::Model(ModelSpec spec, std::unique_ptr<AotiForward> aoti, c10::Device device, c10::ScalarType dtype)
    : spec_(std::move(spec)), aoti_(std::move(aoti)), device_(device), dtype_(dtype) {
  parameter_count_ = aoti_->parameter_count();
  weight_bytes_ = aoti_->weight_bytes();
  graph_optimization_ = "AOTInductor package (compiled kernels)";
}

Model::Model(ModelSpec spec, torch::jit::Module module, c10::Device device, c10::ScalarType dtype)
    : spec_(std::move(spec)), module_(std::move(module)), device_(device), dtype_(dtype) {
  // Shared tensors (tied embeddings) appear once per owner; count each storage once.
  std::unordered_set<const void*> seen;
  for (const at::Tensor& parameter : module_.parameters()) {
    if (!seen.insert(parameter.storage().data()).second) continue;
    parameter_count_ += parameter.numel();
    weight_bytes_ += static_cast<int64_t>(parameter.nbytes());
  }
  for (const at::Tensor& buffer : module_.buffers()) {
    if (seen.insert(buffer.storage().data()).second) weight_bytes_ += static_cast<int64_t>(buffer.nbytes());
  }
  // int8 layers (quantize.py) keep their weights inside fbgemm's packed objects, which are neither
  // parameters nor buffers: unpack each once to count it (int8, a byte per weight).
  for (const auto& attribute : module_.named_attributes(/*recurse=*/true)) {
    const c10::IValue& value = attribute.value;
    if (!value.isObject() || value.toObjectRef().type()->name()->qualifiedName() != kPackedLinearClass) continue;
    torch::jit::Function* unpack = value.toObjectRef().type()->findMethod("unpack");
    if (unpack == nullptr) continue;
    std::vector<c10::IValue> stack{value};
    unpack->run(stack);
    const at::Tensor weight = stack.at(0).toTupleRef().elements().at(0).toTensor();  // [out, in] qint8
    parameter_count_ += weight.numel();
    weight_bytes_ += static_cast<int64_t>(weight.nbytes());
  }
}

void Model::Probe() {
  // A module that is not the causal LM the manifest describes fails here, with a message, rather than
  // on a user's first request.
  c10::InferenceMode inference_guard;
  if (!aoti_) CheckSignature(module_, spec_.interface);
  const auto long_options = torch::TensorOptions().dtype(torch::kLong).device(device_);
  if (spec_.interface == ModelInterface::kLogits) {
    at::Tensor logits = ProbeForward("model.pt: forward(tokens) failed in the load-time check",
                                     "; the `logits` interface expects forward(tokens[B, T] int64) -> logits[B, T, V]",
                                     [&] { return ForwardLogits(torch::zeros({1, 1}, long_options)); });  // [1, 1, V]
    CheckFloatingPoint(logits);
    return;
  }
  // Two positions in a small cache of its own: checks the cache geometry and the output. Two distinct tokens,
  // not id 0 alone: a padding row of zeros would make every key zero, and the cache look unwritten.
  const int64_t vocab = spec_.vocab_size;
  const at::Tensor tokens = torch::tensor({std::min<int64_t>(1, vocab - 1), vocab / 2}, long_options).unsqueeze(0);
  KvCache small(KvCacheShape{spec_.num_layers, 1, spec_.num_kv_heads, 2, spec_.head_dim}, dtype_, device_);
  const std::string geometry = "num_layers " + std::to_string(spec_.num_layers) + ", num_kv_heads " +
                               std::to_string(spec_.num_kv_heads) + ", head_dim " + std::to_string(spec_.head_dim);
  ProbeForward("model.pt does not fit the KV cache torch-gen.json describes (" + geometry +
                   "): its forward failed on a cache of that shape",
               "; fix those fields in torch-gen.json or re-export the model", [&] {
                 return ForwardWithCache(tokens, torch::arange(2, long_options).unsqueeze(0), small, 0, 2);  // [1, V]
               });
  CheckCacheWritten(small, spec_);
  // The last position a request can reach: a module with a shorter position table (GPT-2's learned
  // positions) than the context it is loaded with fails here instead of in the middle of a request.
  if (spec_.max_context <= 2) return;
  const int64_t last = spec_.max_context - 1;
  KvCache one_slot(KvCacheShape{spec_.num_layers, 1, spec_.num_kv_heads, spec_.max_context, spec_.head_dim}, dtype_,
                   device_);
  ProbeForward("model.pt fails at position " + std::to_string(last) + ", the last of the " +
                   std::to_string(spec_.max_context) + "-token context it was loaded with",
               "; torch-gen.json's max_context, or the maxContext option, is more than the module supports: lower it",
               [&] {
                 return ForwardWithCache(tokens.narrow(1, 0, 1), torch::full({1, 1}, last, long_options), one_slot,
                                         0, spec_.max_context);  // [1, V]
               });
}

std::unique_ptr<KvCache> Model::AllocateCache() const {
  KvCacheShape shape{spec_.num_layers, spec_.max_batch, spec_.num_kv_heads, spec_.max_context, spec_.head_dim};
  return std::make_unique<KvCache>(shape, dtype_, device_);
}

at::Tensor Model::ForwardWithCache(const at::Tensor& tokens, const at::Tensor& positions, KvCache& cache,
                                   int64_t first_slot, int64_t kv_len) {
  const int64_t batch = tokens.size(0);
  // What forward throws passes through: Probe turns it into a load error, the engine into a generation
  // error (or ERR_OUT_OF_MEMORY).
  const c10::IValue output =
      aoti_ ? c10::IValue(aoti_->Run(tokens, positions, cache.Keys(first_slot, batch), cache.Values(first_slot, batch),
                                     kv_len))
            : module_.forward({tokens, positions, cache.Keys(first_slot, batch), cache.Values(first_slot, batch),
                               c10::IValue(kv_len)});
  if (!output.isTensor()) {
    throw TorchGenError(codes::kModelLoad, "model.pt: forward did not return a tensor of logits (it returned " +
                                               output.tagKind() + ")");
  }
  at::Tensor logits = output.toTensor();  // [B, V]
  CheckFloatingPoint(logits);
  if (logits.dim() != 2 || logits.size(0) != batch) {
    throw TorchGenError(codes::kModelLoad, "model.pt returned logits of shape " + ShapeString(logits) + " for " +
                                               std::to_string(batch) +
                                               " rows; the `kv-cache` interface returns [B, vocab_size]");
  }
  if (logits.size(1) != spec_.vocab_size) {
    throw TorchGenError(codes::kModelLoad, "model.pt returned " + std::to_string(logits.size(1)) +
                                               " logits per token but torch-gen.json says vocab_size " +
                                               std::to_string(spec_.vocab_size) +
                                               "; fix the manifest or re-export the model");
  }
  return logits.to(torch::kFloat);
}

at::Tensor Model::ForwardLogits(const at::Tensor& tokens) {
  const c10::IValue output = module_.forward({tokens});  // throws through, as in ForwardWithCache
  at::Tensor logits = LogitsFromOutput(output);  // [B, T, V]
  const bool shape_ok = logits.dim() == 3 && logits.size(0) == tokens.size(0) && logits.size(1) == tokens.size(1);
  if (!shape_ok) {
    throw TorchGenError(codes::kModelLoad, "model.pt returned logits of shape " + ShapeString(logits) +
                                               " for tokens of shape " + ShapeString(tokens) +
                                               "; the `logits` interface returns [B, T, vocab_size]");
  }
  if (logits.size(2) != spec_.vocab_size) {
    throw TorchGenError(codes::kModelLoad, "model.pt returned " + std::to_string(logits.size(2)) +
                                               " logits per token but torch-gen.json says vocab_size " +
                                               std::to_string(spec_.vocab_size) +
                                               "; fix the manifest or re-export the model");
  }
  return logits;
}

at::Tensor Model::NextTokenLogits(const std::vector<int64_t>& sequence) {
  // from_blob does not copy: clone before moving to the device so the tensor owns its memory.
  at::Tensor tokens = torch::from_blob(const_cast<int64_t*>(sequence.data()),  // [1, T] int64
                                       {1, static_cast<int64_t>(sequence.size())}, torch::kLong)
                          .to(device_, /*non_blocking=*/false, /*copy=*/true);
  at::Tensor logits = ForwardLogits(tokens);                // [1, T, V]
  return logits.select(0, 0).select(0, -1).to(torch::kFloat);  // [V] float32
}

}  // namespace torchgen
