#include "failure.h"

#include <array>
#include <string>

#include <c10/util/Exception.h>

namespace torchgen {
namespace {

constexpr const char* kCudaError = "CUDA error: ";

// The errors CUDA's runtime API documents as leaving the context unusable ("the process must be terminated
// and relaunched"), as cudaGetErrorString words them: 214, 700, 702, 710, 714-719.
constexpr std::array<const char*, 10> kStickyCudaErrors = {
    "uncorrectable ECC error encountered",
    "an illegal memory access was encountered",
    "the launch timed out and was terminated",
    "device-side assert triggered",
    "hardware stack error",
    "an illegal instruction was encountered",
    "misaligned address",
    "operation not supported on global/shared address space",
    "invalid program counter",
    "unspecified launch failure",
};

bool Contains(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

Failure FromMessage(const std::string& full, const char* fallback_code) {
  Failure failure{CodeForMessage(full, fallback_code), ErrorSummary(full)};
  failure.device_lost = IsDeviceLost(full);
  return failure;
}

}  // namespace

std::string LastLine(const std::string& message) {
  const size_t end = message.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return message;
  const size_t newline = message.rfind('\n', end);
  const size_t start = newline == std::string::npos ? 0 : newline + 1;
  return message.substr(start, end - start + 1);
}

std::string ErrorSummary(const std::string& message) {
  const size_t cuda = message.find(kCudaError);
  if (cuda != std::string::npos) return message.substr(cuda, message.find('\n', cuda) - cuda);
  // An error raised inside a TorchScript module arrives wrapped in the interpreter's traceback of the
  // serialized code; other errors' lines all count.
  const bool scripted = Contains(message, "The following operation failed in the TorchScript interpreter");
  return scripted ? LastLine(message) : message;
}

const char* CodeForMessage(const std::string& message, const char* fallback_code) {
  // libtorch's CPU allocator reports a failed allocation as a plain c10::Error (and inside a TorchScript
  // module it arrives as the interpreter's std::runtime_error); the CUDA allocator's OutOfMemoryError
  // loses its type the same way inside a module.
  for (const char* oom : {"can't allocate memory", "CUDA out of memory", "CUDA error: out of memory",
                          "CUBLAS_STATUS_ALLOC_FAILED"}) {
    if (Contains(message, oom)) return codes::kOutOfMemory;
  }
  if (Contains(message, kCudaError)) return codes::kDevice;
  return fallback_code;
}

bool IsDeviceLost(const std::string& message) {
  const size_t cuda = message.find(kCudaError);
  if (cuda == std::string::npos) return false;
  const std::string error = message.substr(cuda + std::string(kCudaError).size());
  for (const char* sticky : kStickyCudaErrors) {
    if (error.rfind(sticky, 0) == 0) return true;
  }
  return false;
}

Failure DescribeCurrentException(const char* fallback_code) {
  try {
    throw;
  } catch (const TorchGenError& error) {
    return {error.code(), error.what()};
  } catch (const c10::OutOfMemoryError& error) {
    return {codes::kOutOfMemory, error.what_without_backtrace()};
  } catch (const c10::Error& error) {
    // what() carries a C++ backtrace that means nothing to a Node user.
    return FromMessage(error.what_without_backtrace(), fallback_code);
  } catch (const std::bad_alloc&) {
    return {codes::kOutOfMemory, "out of host memory"};
  } catch (const std::exception& error) {
    return FromMessage(error.what(), fallback_code);
  } catch (...) {
    return {codes::kInternal, "unknown C++ exception"};
  }
}

}  // namespace torchgen
