// Prepares a loaded TorchScript module for inference on the CPU: freezing (libtorch's torch.jit.freeze)
// inlines the weights as constants and drops the attribute lookups, the submodule calls and the branches
// whose condition is a module attribute; the linear layers then go to oneDNN with their weights reordered
// once into its layout, which uses every thread on a single row and reads bfloat16 at full bandwidth
// (see UseOneDnnLinear). A decode step is a chain of such matrix-vector products plus a few hundred
// small ops, so both halves count.
#pragma once

#include <cstdint>
#include <string>

#include <torch/script.h>

namespace torchgen {

struct PreparedGraph {
  torch::jit::Module module;
  // What was done, for model info and diagnosis: "frozen, 121 oneDNN linear layers", "as exported (why)".
  std::string description;
};

// Freezes and rewrites `module` (in eval mode, already on its device and dtype) when `optimize` is set
// and the device is the CPU. A module the passes cannot handle (a user's own TorchScript with mutable
// attributes, say) is kept as it is: the description says why. Never throws for that reason.
PreparedGraph PrepareForInference(torch::jit::Module module, const c10::Device& device, c10::ScalarType dtype,
                                  bool optimize);

// Nodes of forward's graph, counting the nodes inside blocks (if/loop bodies) too: the interpreter's
// work per call, printed by the benchmarks so that a change to the model code shows its cost.
int64_t CountGraphNodes(torch::jit::Module& module);

}  // namespace torchgen
