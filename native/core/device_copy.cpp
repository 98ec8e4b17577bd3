#include "device_copy.h"

#include <cstring>

#include <ATen/ATen.h>

namespace torchgen {
namespace {

template <typename T>
at::Tensor Copy(const std::vector<T>& values, const std::vector<int64_t>& shape, at::ScalarType dtype,
                const c10::Device& device) {
  const bool pinned = device.is_cuda();
  // Pinned host memory from libtorch's caching host allocator: a non-blocking copy from it is truly
  // asynchronous, and the allocator keeps the block until the copy has run, so it is safe to let go.
  at::Tensor host = at::empty(shape, at::TensorOptions().dtype(dtype).pinned_memory(pinned));
  if (!values.empty()) std::memcpy(host.data_ptr(), values.data(), values.size() * sizeof(T));
  if (device.is_cpu()) return host;
  return host.to(device, /*non_blocking=*/true);
}

}  // namespace

at::Tensor HostToDevice(const std::vector<int64_t>& values, const std::vector<int64_t>& shape,
                        const c10::Device& device) {
  return Copy(values, shape, at::kLong, device);
}

at::Tensor HostToDevice(const std::vector<int32_t>& values, const std::vector<int64_t>& shape,
                        const c10::Device& device) {
  return Copy(values, shape, at::kInt, device);
}

at::Tensor HostToDevice(const std::vector<float>& values, const std::vector<int64_t>& shape,
                        const c10::Device& device) {
  return Copy(values, shape, at::kFloat, device);
}

std::vector<int64_t> DeviceToHost(const at::Tensor& tensor) {
  const at::Tensor host = tensor.to(at::kCPU, at::kLong).contiguous();
  const int64_t* values = host.data_ptr<int64_t>();
  return {values, values + host.numel()};
}

}  // namespace torchgen
