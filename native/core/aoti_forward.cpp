#include "aoti_forward.h"

#include <unordered_set>
#include <vector>

#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/torch.h>

#include "failure.h"

namespace torchgen {

std::unique_ptr<AotiForward> AotiForward::Load(const std::string& path, const c10::Device& device) {
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> loader;
  try {
    // One runner: the engine thread is the package's only caller.
    loader = std::make_unique<torch::inductor::AOTIModelPackageLoader>(path, "model", /*run_single_threaded=*/false,
                                                                       /*num_runners=*/1,
                                                                       device.is_cuda() ? device.index() : -1);
  } catch (const c10::Error& error) {
    throw TorchGenError(codes::kModelLoad, "model.pt2 could not be loaded as an AOTInductor package (" +
                                               LastLine(ErrorSummary(error.what_without_backtrace())) +
                                               "); re-export the model with `--format aoti` on this machine");
  } catch (const std::exception& error) {
    throw TorchGenError(codes::kModelLoad, "model.pt2 could not be loaded as an AOTInductor package (" +
                                               LastLine(ErrorSummary(error.what())) +
                                               "); re-export the model with `--format aoti` on this machine");
  }
  return std::unique_ptr<AotiForward>(new AotiForward(std::move(loader), device));
}

AotiForward::AotiForward(std::unique_ptr<torch::inductor::AOTIModelPackageLoader> loader, c10::Device device)
    : loader_(std::move(loader)), device_(device) {
  std::unordered_set<const void*> seen;
  for (const auto& [name, tensor] : loader_->get_runner()->extract_constants_map(/*use_inactive=*/false)) {
    if (!tensor.defined()) continue;
    // Weights prepacked for oneDNN are opaque: no storage to share, so each counts.
    const bool stored = tensor.unsafeGetTensorImpl()->has_storage();
    if (stored && !seen.insert(tensor.storage().data()).second) continue;
    if (at::isFloatingType(tensor.scalar_type())) parameter_count_ += tensor.numel();
    weight_bytes_ += tensor.numel() * static_cast<int64_t>(tensor.element_size());
  }
}

AotiForward::~AotiForward() = default;

at::Tensor AotiForward::Run(const at::Tensor& tokens, const at::Tensor& positions, const at::Tensor& keys,
                            const at::Tensor& values, int64_t kv_len) {
  const int64_t layers = keys.size(0);
  std::vector<at::Tensor> inputs;
  inputs.reserve(3 + 2 * layers);
  inputs.push_back(tokens.contiguous());
  inputs.push_back(positions.contiguous());
  inputs.push_back(torch::arange(kv_len, torch::TensorOptions().dtype(torch::kLong).device(device_)));
  // Slots [first, first + B) of one layer of the [L, S, H_kv, T_max, D] pool: a contiguous view, which the
  // package writes in place (a copy would silently drop its writes).
  for (const at::Tensor* cache : {&keys, &values}) {
    for (int64_t layer = 0; layer < layers; ++layer) {
      at::Tensor view = cache->select(0, layer);
      if (!view.is_contiguous()) {
        throw TorchGenError(codes::kInternal, "internal error: a layer's KV cache view is not contiguous (strides " +
                                                  c10::str(view.strides()) + ")");
      }
      inputs.push_back(std::move(view));
    }
  }
  std::vector<at::Tensor> outputs = loader_->run(inputs);
  if (outputs.size() != 1) {
    throw TorchGenError(codes::kModelLoad, "model.pt2 returned " + std::to_string(outputs.size()) +
                                               " outputs; a torch-gen package returns the logits alone: re-export it");
  }
  return outputs[0];
}

}  // namespace torchgen
