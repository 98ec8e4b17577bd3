#include "device_memory.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "failure.h"

#ifdef TORCH_GEN_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#endif

namespace torchgen {
namespace {

int64_t AvailableHostMemory() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return -1;
}

}  // namespace

DeviceMemoryStats DeviceMemory(const c10::Device& device) {
  DeviceMemoryStats result;
#ifdef TORCH_GEN_CUDA
  if (!device.is_cuda()) return result;
  using c10::CachingAllocator::StatType;
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
  const auto aggregate = static_cast<size_t>(StatType::AGGREGATE);
  result.allocated_bytes = stats.allocated_bytes[aggregate].current;
  result.peak_allocated_bytes = stats.allocated_bytes[aggregate].peak;
  result.reserved_bytes = stats.reserved_bytes[aggregate].current;
#else
  (void)device;
#endif
  return result;
}

int64_t AvailableMemory(const c10::Device& device) {
  if (const char* fake = std::getenv("TORCH_GEN_TEST_FREE_MEMORY")) return std::strtoll(fake, nullptr, 10);
  if (device.is_cpu()) return AvailableHostMemory();
#ifdef TORCH_GEN_CUDA
  if (device.is_cuda()) {
    c10::cuda::CUDAGuard guard(device);
    size_t free = 0;
    size_t total = 0;
    C10_CUDA_CHECK(cudaMemGetInfo(&free, &total));
    const DeviceMemoryStats held = DeviceMemory(device);
    return static_cast<int64_t>(free) + (held.reserved_bytes - held.allocated_bytes);
  }
#endif
  return -1;
}

}  // namespace torchgen

namespace torchgen {

std::string Mib(double bytes) { return std::to_string(static_cast<int64_t>(bytes / (1 << 20))) + " MiB"; }

void RequireMemory(const c10::Device& device, double bytes, const std::string& what, const std::string& detail,
                   const std::string& remedy) {
  const int64_t available = AvailableMemory(device);
  if (available >= 0 && bytes > 0.9 * static_cast<double>(available)) {
    throw TorchGenError(codes::kOutOfMemory, what + " needs " + Mib(bytes) + detail + " but only " +
                                                 Mib(static_cast<double>(available)) + " of memory is available on " +
                                                 device.str() + "; " + remedy);
  }
}

}  // namespace torchgen
