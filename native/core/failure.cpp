#include "failure.h"

#include <string>

#include <c10/util/Exception.h>

namespace torchgen {
namespace {

// An error raised inside a TorchScript module arrives wrapped in the interpreter's traceback of the
// serialized code; other errors' lines all count.
std::string WithoutScriptTraceback(const std::string& message) {
  const bool scripted = message.find("The following operation failed in the TorchScript interpreter") != std::string::npos;
  return scripted ? LastLine(message) : message;
}

// libtorch's CPU allocator reports a failed allocation as a plain c10::Error (and inside a TorchScript
// module it arrives as the interpreter's std::runtime_error); it is out of memory all the same.
const char* CodeFor(const std::string& message, const char* fallback_code) {
  return message.find("can't allocate memory") != std::string::npos ? codes::kOutOfMemory : fallback_code;
}

}  // namespace

std::string LastLine(const std::string& message) {
  const size_t end = message.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return message;
  const size_t newline = message.rfind('\n', end);
  const size_t start = newline == std::string::npos ? 0 : newline + 1;
  return message.substr(start, end - start + 1);
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
    const std::string message = WithoutScriptTraceback(error.what_without_backtrace());
    return {CodeFor(message, fallback_code), message};
  } catch (const std::bad_alloc&) {
    return {codes::kOutOfMemory, "out of host memory"};
  } catch (const std::exception& error) {
    const std::string message = WithoutScriptTraceback(error.what());
    return {CodeFor(message, fallback_code), message};
  } catch (...) {
    return {codes::kInternal, "unknown C++ exception"};
  }
}

}  // namespace torchgen
