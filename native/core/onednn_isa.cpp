#include "onednn_isa.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <optional>

namespace torchgen {
namespace {

std::mutex mutex;
std::optional<OneDnnIsaCap> fixed_cap;  // set by the first CPU load; guarded by mutex

OneDnnIsaCap FromEnvironment() {
  OneDnnIsaCap cap;
  for (const char* name : {"ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"}) {  // oneDNN's order of precedence
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') continue;
    cap.value = value;
    std::transform(cap.value.begin(), cap.value.end(), cap.value.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    cap.source = "environment";
    break;
  }
  return cap;
}

}  // namespace

OneDnnIsaCap FixOneDnnIsaCap(const std::string& wanted) {
  std::lock_guard<std::mutex> lock(mutex);
  if (fixed_cap) return *fixed_cap;
  OneDnnIsaCap cap = FromEnvironment();
  if (cap.value.empty() && !wanted.empty()) {
    // setenv, not oneDNN's own setter: libtorch does not export oneDNN's functions. Safe while no other
    // thread reads the environment, which holds at the first CPU load (nothing of libtorch's runs yet).
    setenv("ONEDNN_MAX_CPU_ISA", wanted.c_str(), 0);
    cap.value = wanted;
    cap.source = "torch-gen";
  }
  fixed_cap = cap;
  return cap;
}

OneDnnIsaCap CurrentOneDnnIsaCap() {
  std::lock_guard<std::mutex> lock(mutex);
  return fixed_cap ? *fixed_cap : FromEnvironment();
}

}  // namespace torchgen
