// Errors as values: no exception leaves the engine thread or crosses into N-API unconverted.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace torchgen {

// Stable codes that the TypeScript layer maps to its error classes (lib/errors.ts).
namespace codes {
inline constexpr const char* kModelLoad = "ERR_MODEL_LOAD";
inline constexpr const char* kDevice = "ERR_DEVICE";
inline constexpr const char* kOutOfMemory = "ERR_OUT_OF_MEMORY";
inline constexpr const char* kInvalidArgument = "ERR_INVALID_ARGUMENT";
inline constexpr const char* kContextLength = "ERR_CONTEXT_LENGTH";
inline constexpr const char* kDisposed = "ERR_DISPOSED";
inline constexpr const char* kQueueFull = "ERR_QUEUE_FULL";
inline constexpr const char* kInternal = "ERR_INTERNAL";
inline constexpr const char* kGrammarUnavailable = "ERR_GRAMMAR_UNAVAILABLE";
}  // namespace codes

struct Failure {
  std::string code;
  std::string message;
  // A sticky CUDA error (an illegal address, a device-side assert...): the process's CUDA context is
  // unusable from now on, so every later step on that GPU would fail too.
  bool device_lost = false;
};

// Thrown by torch-gen's own checks; carries the code the user will see.
class TorchGenError : public std::runtime_error {
 public:
  TorchGenError(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// The last non-empty line of a message. The TorchScript interpreter prints the script's whole traceback
// first and the error itself ("RuntimeError: shape mismatch: ...") last; a user needs only that line.
std::string LastLine(const std::string& message);

// The line of an error message that names the error: for a CUDA error its "CUDA error: ..." line (the
// lines after it are libtorch's generic advice, ending with "Compile with `TORCH_USE_CUDA_DSA`..."); for
// an error raised inside a TorchScript module, the last line; otherwise the whole message.
std::string ErrorSummary(const std::string& message);

// The code for an error message that carries no type: out of memory (host or CUDA), a CUDA error (a
// device error), or `fallback_code`. The TorchScript interpreter rethrows every error as text, so the
// message is all that is left of its type.
const char* CodeForMessage(const std::string& message, const char* fallback_code);

// Whether a message reports a CUDA error that leaves the CUDA context unusable (cudaErrorIllegalAddress
// and the other errors CUDA documents as sticky).
bool IsDeviceLost(const std::string& message);

// Describes the exception being handled; call only inside a catch block. `fallback_code` is used for
// exceptions that are not torch-gen's own (a c10::Error while loading a model is a load error, say).
Failure DescribeCurrentException(const char* fallback_code);

// Runs `fn`, converting any exception into a Failure whose message starts with `operation`.
template <typename Fn>
std::optional<Failure> Guarded(std::string_view operation, const char* fallback_code, Fn&& fn) {
  try {
    std::forward<Fn>(fn)();
    return std::nullopt;
  } catch (...) {
    Failure failure = DescribeCurrentException(fallback_code);
    failure.message = std::string(operation) + ": " + failure.message;
    return failure;
  }
}

}  // namespace torchgen
