// Host-to-device copies that do not stall the host: on CUDA, through pinned memory and without waiting
// for the stream, so that a decode step synchronises once (when the sampled ids come back), not once per
// small input tensor. And the copy back of ids, which waits.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

namespace torchgen {

// An int64 tensor of `shape` holding `values`, on `device`. The host vector may be freed at once.
at::Tensor HostToDevice(const std::vector<int64_t>& values, const std::vector<int64_t>& shape,
                        const c10::Device& device);

// The same for int32 values (a bitmask's 32-bit words, bit patterns kept).
at::Tensor HostToDevice(const std::vector<int32_t>& values, const std::vector<int64_t>& shape,
                        const c10::Device& device);

// The same for float32 values.
at::Tensor HostToDevice(const std::vector<float>& values, const std::vector<int64_t>& shape,
                        const c10::Device& device);

// The int64 values of `tensor` (any device, any shape), on the host: one copy, which waits for the device.
std::vector<int64_t> DeviceToHost(const at::Tensor& tensor);

}  // namespace torchgen
