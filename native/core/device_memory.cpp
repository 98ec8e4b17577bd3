#include "device_memory.h"

#ifdef TORCH_GEN_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace torchgen {

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

}  // namespace torchgen
