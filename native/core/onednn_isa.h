// The instruction-set cap of oneDNN, the library that runs libtorch's CPU linear layers here (see
// inference_graph.h). oneDNN reads it from the environment (ONEDNN_MAX_CPU_ISA, or its older name
// DNNL_MAX_CPU_ISA) once, when it first runs a primitive, and keeps it for the life of the process: it
// cannot differ between models, nor change after the first CPU model has run.
//
// torch-gen therefore fixes it once, at the process's first CPU model load, before that model runs: the
// environment's value when there is one, else the cap the load asks for (lib/options.ts decides which: AVX2
// for a float32 TorchScript model on AMD Zen 4, where oneDNN's AVX2 kernels read one-row products faster
// than its AVX-512 ones), else none. Later loads read the fixed cap and adapt (bfloat16 and AOTInductor
// packages need oneDNN's AVX-512 kernels: lib/load-model.ts).
#pragma once

#include <string>

namespace torchgen {

struct OneDnnIsaCap {
  std::string value;   // the cap as oneDNN reads it (e.g. "AVX2"); "" when uncapped
  std::string source;  // "environment", "torch-gen" (set by the first CPU load), or "" when uncapped
};

// Fixes the cap for this process if no load has yet (`wanted` "" asks for none) and returns it. Sets
// ONEDNN_MAX_CPU_ISA in the process environment for oneDNN to read (child processes inherit it); never
// overrides a value the environment already has. Thread-safe; call it before the model's first forward.
OneDnnIsaCap FixOneDnnIsaCap(const std::string& wanted);

// The fixed cap, or before any CPU load what the environment says now.
OneDnnIsaCap CurrentOneDnnIsaCap();

}  // namespace torchgen
