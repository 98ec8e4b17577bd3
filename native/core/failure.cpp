#include "failure.h"

#include <c10/util/Exception.h>

namespace torchgen {

Failure DescribeCurrentException(const char* fallback_code) {
  try {
    throw;
  } catch (const TorchGenError& error) {
    return {error.code(), error.what()};
  } catch (const c10::OutOfMemoryError& error) {
    return {codes::kOutOfMemory, error.what_without_backtrace()};
  } catch (const c10::Error& error) {
    // what() carries a C++ backtrace that means nothing to a Node user.
    return {fallback_code, error.what_without_backtrace()};
  } catch (const std::bad_alloc&) {
    return {codes::kOutOfMemory, "out of host memory"};
  } catch (const std::exception& error) {
    return {fallback_code, error.what()};
  } catch (...) {
    return {codes::kInternal, "unknown C++ exception"};
  }
}

}  // namespace torchgen
