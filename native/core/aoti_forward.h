// The kv-cache forward of an AOTInductor package (model.pt2, written by the exporter's --format aoti): compiled
// kernels and weights in one file, loaded with libtorch's AOTIModelPackageLoader. Model runs it in place of a
// TorchScript module's forward; the engine, the KV cache pool and the scheduler see no difference.
//
// The package's entry point takes tensors only (python/torch_gen_export/aoti.py):
//   (tokens [B, T], positions [B, T], key_positions [kv_len], L x keys [B, H_kv, T_max, D], L x values [...])
// One input per layer because one layer's slots of the pool are contiguous while all layers' are not, and
// the compiled code assumes the strides it was traced with.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

namespace torch::inductor {
class AOTIModelPackageLoader;
}

namespace torchgen {

class AotiForward {
 public:
  // Loads the package onto `device` (its kernels are for one device type, which lib/aoti.ts has checked
  // against the manifest). Throws TorchGenError(ERR_MODEL_LOAD) with the loader's reason.
  static std::unique_ptr<AotiForward> Load(const std::string& path, const c10::Device& device);
  ~AotiForward();

  // keys and values: the [L, B, H_kv, T_max, D] views of the pool that a TorchScript module receives; the
  // package writes its positions into them in place. Returns the logits [B, V] in the package's dtype.
  at::Tensor Run(const at::Tensor& tokens, const at::Tensor& positions, const at::Tensor& keys,
                 const at::Tensor& values, int64_t kv_len);

  // The package's weights (embedded constants; a tensor shared by two names counts once).
  int64_t parameter_count() const { return parameter_count_; }
  int64_t weight_bytes() const { return weight_bytes_; }

 private:
  AotiForward(std::unique_ptr<torch::inductor::AOTIModelPackageLoader> loader, c10::Device device);

  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> loader_;
  c10::Device device_;
  int64_t parameter_count_ = 0;
  int64_t weight_bytes_ = 0;
};

}  // namespace torchgen
