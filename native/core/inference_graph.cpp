#include "inference_graph.h"

#include <cstdlib>
#include <functional>
#include <optional>

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>

#include "backend_settings.h"
#include "failure.h"

namespace torchgen {
namespace {

// The batch size oneDNN lays a weight out for. Measured on SmolLM2's layer shapes, one thread: float32 ran
// 32 ms per step at one row and 45 at 16 rows with no hint, 37 and 49 laid out for one row (MKL's matmul:
// 30 and 82); bfloat16 ran 18 and 26 laid out for one row, 20 and 29 with no hint.
std::optional<int64_t> LayoutHint(c10::ScalarType dtype) {
  if (dtype == c10::kBFloat16) return 1;
  return std::nullopt;
}

// A frozen linear layer is aten::linear(x, W, b) with W a constant [out, in]. On one row (a batch-1 decode
// step) libtorch runs it poorly: in float32 MKL uses one thread whatever the thread count, in bfloat16 it
// reaches a quarter of the memory bandwidth. oneDNN's linear on a weight reordered once into its blocked
// layout splits a row's product across the threads and runs bfloat16 at full speed (SmolLM2's output
// projection, one thread: 2.8 ms against 10.3 ms), and is faster at 16 rows too. The weights are reordered
// here, once, and held as attributes of the frozen module (a oneDNN tensor cannot be a graph constant).
// Returns the number of layers replaced.
int64_t UseOneDnnLinear(torch::jit::Module& module, c10::ScalarType dtype) {
  torch::jit::Graph& graph = *module.get_method("forward").graph();
  torch::jit::Value* self = graph.inputs().at(0);
  static const auto reorder = c10::Dispatcher::singleton()
                                  .findSchemaOrThrow("mkldnn::_reorder_linear_weight", "")
                                  .typed<at::Tensor(const at::Tensor&, std::optional<int64_t>)>();
  const auto linear = c10::Symbol::fromQualString("mkldnn::_linear_pointwise");
  std::vector<torch::jit::Node*> linears;
  for (torch::jit::Node* node : graph.nodes()) {
    if (node->kind() == c10::aten::linear) linears.push_back(node);
  }
  int64_t replaced = 0;
  for (torch::jit::Node* node : linears) {
    const auto weight = torch::jit::toIValue(node->input(1));  // set only for a constant
    const auto bias = torch::jit::toIValue(node->input(2));
    if (!weight || !weight->isTensor() || !bias) continue;
    const at::Tensor& w = weight->toTensor();  // [out, in]
    if (w.dim() != 2 || w.scalar_type() != dtype || !w.device().is_cpu() || w.is_mkldnn()) continue;
    const at::Tensor packed = reorder.call(w.contiguous(), LayoutHint(dtype));  // [out, in] blocked
    const std::string name = "oneDnnLinearWeight" + std::to_string(replaced++);
    module.register_attribute(name, c10::TensorType::get(), packed);
    torch::jit::WithInsertPoint insert_before(node);
    torch::jit::Value* packed_value = graph.insertGetAttr(self, name);
    torch::jit::Value* none = graph.insertConstant(c10::IValue());
    torch::jit::Value* attr = graph.insertConstant(std::string("none"));
    torch::jit::Value* scalars =
        graph.insertNode(graph.createList(c10::OptionalType::create(c10::NumberType::get()), {}))->output();
    torch::jit::Value* output =
        graph.insert(linear, {node->input(0), packed_value, node->input(2), attr, scalars, none});
    output->setType(node->output()->type());
    node->output()->replaceAllUsesWith(output);
    node->destroy();
  }
  torch::jit::EliminateDeadCode(graph.block());
  return replaced;
}

}  // namespace

PreparedGraph PrepareForInference(torch::jit::Module module, const c10::Device& device, c10::ScalarType dtype,
                                  bool optimize) {
  if (!optimize) return {std::move(module), "as exported (optimizeGraph is off)"};
  // On CUDA the decode step is replayed as CUDA graphs, which already remove the per-op overhead that
  // freezing saves on the CPU; the GPU path stays as measured until it has run on a GPU.
  if (!device.is_cpu()) return {std::move(module), "as exported (graph optimization is for the CPU)"};
  // float16 on the CPU is slow either way (libtorch's CPU kernels), and oneDNN has no float16 linear on
  // most CPUs: it stays as exported.
  if (dtype == c10::kHalf) return {std::move(module), "as exported (float16 on the CPU is not optimized)"};
  try {
    // Not torch.jit.optimize_for_inference: its gain for these graphs, linear weights transposed for MKL's
    // matmul, is what the oneDNN layers below do better (and it also inlines by freezing, see below).
    // Inlined here, before freezing, the call stacks of the inlined nodes name the loaded module's methods,
    // which live as long as the module's compilation unit (the frozen module holds it). Inlined by freeze
    // itself, they would name its clone's methods, which freezing then deletes: an error raised inside
    // forward later made libtorch 2.9.1's interpreter read them (InterpreterStateImpl::callstack) and crash
    // (seen with a manifest whose head_dim is wrong).
    torch::jit::Inline(*module.get_method("forward").graph());
    torch::jit::Module frozen = torch::jit::freeze(module);
    // TORCH_GEN_ONEDNN_LINEAR=off keeps libtorch's linear, to compare the two on a machine (diagnosis only).
    const int64_t replaced = OneDnnLinearEnabled() ? UseOneDnnLinear(frozen, dtype) : 0;
    if (replaced == 0) return {std::move(frozen), "frozen"};
    return {std::move(frozen), "frozen, " + std::to_string(replaced) + " oneDNN linear layers"};
  } catch (const c10::Error& error) {
    return {std::move(module), "as exported (freezing failed: " + LastLine(error.what_without_backtrace()) + ")"};
  } catch (const std::exception& error) {
    return {std::move(module), "as exported (freezing failed: " + LastLine(error.what()) + ")"};
  }
}

int64_t CountGraphNodes(torch::jit::Module& module) {
  const auto forward = module.find_method("forward");
  if (!forward) return 0;
  std::function<int64_t(torch::jit::Block*)> count = [&count](torch::jit::Block* block) -> int64_t {
    int64_t nodes = 0;
    for (torch::jit::Node* node : block->nodes()) {
      nodes += 1;
      for (torch::jit::Block* inner : node->blocks()) nodes += count(inner);
    }
    return nodes;
  };
  // An unfrozen module calls its submodules' methods; inline a copy so both forms count the same work.
  std::shared_ptr<torch::jit::Graph> graph = forward->graph()->copy();
  torch::jit::Inline(*graph);
  return count(graph->block());
}

}  // namespace torchgen
