// The GPU memory libtorch's caching allocator holds for a device, for model.stats(): what a benchmark
// reports as peak memory and what an operator watches. All zeros on the CPU, and when the addon was built
// without the CUDA runtime headers (see CMakeLists.txt).
#pragma once

#include <cstdint>
#include <string>

#include <c10/core/Device.h>

namespace torchgen {

struct DeviceMemoryStats {
  int64_t allocated_bytes = 0;       // held by live tensors now
  int64_t peak_allocated_bytes = 0;  // the most held by live tensors since the process started
  int64_t reserved_bytes = 0;        // taken from the driver by the allocator (>= allocated)
};

DeviceMemoryStats DeviceMemory(const c10::Device& device);

// The bytes a new allocation on `device` can take: on the CPU MemAvailable from /proc/meminfo (what the
// kernel can give without swapping); on a GPU the driver's free memory plus what the caching allocator
// holds unused. -1 when unknown. TORCH_GEN_TEST_FREE_MEMORY (bytes) replaces the reading, so that the tests
// can drive the checks that use it on a machine of any size, and on the CPU the check the GPU uses.
int64_t AvailableMemory(const c10::Device& device);

// Refuses, before allocating, a pool of `bytes` that would leave less than a tenth of the available memory
// (AvailableMemory): on the CPU a too-large allocation does not fail (Linux overcommits, and zeroing the
// pages then gets the whole process killed); on a GPU it fails cleanly, but a pool that takes the last free
// memory leaves none for the forward's activations, so the first request fails instead of the load.
// Throws TorchGenError(ERR_OUT_OF_MEMORY): "<what> needs N MiB<detail> but only M MiB ... on <device>;
// <remedy>".
void RequireMemory(const c10::Device& device, double bytes, const std::string& what, const std::string& detail,
                   const std::string& remedy);

// "N MiB", for messages.
std::string Mib(double bytes);

}  // namespace torchgen
