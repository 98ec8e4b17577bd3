#include "inference_graph.h"

#include <functional>

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>

#include "failure.h"

namespace torchgen {
namespace {

// optimize_for_inference leaves each linear layer as matmul(x, W^T) with W^T a frozen constant. On one
// row (a batch-1 decode step) that matmul is a poor fit: in float32 MKL runs it on one thread whatever the
// thread count, and in bfloat16 at a quarter of the memory bandwidth. oneDNN's linear on a weight reordered
// once into its blocked layout splits the row's product across the threads and runs bfloat16 at full
// speed (SmolLM2's output projection, one thread: 2.8 ms against 10.3 ms). The weights are reordered here,
// once, and held as attributes of the frozen module.
int64_t UseOneDnnLinear(torch::jit::Module& module, c10::ScalarType dtype) {
  torch::jit::Graph& graph = *module.get_method("forward").graph();
  torch::jit::Value* self = graph.inputs().at(0);
  static const auto reorder = c10::Dispatcher::singleton()
                                  .findSchemaOrThrow("mkldnn::_reorder_linear_weight", "")
                                  .typed<at::Tensor(const at::Tensor&, std::optional<int64_t>)>();
  const auto linear = c10::Symbol::fromQualString("mkldnn::_linear_pointwise");
  std::vector<torch::jit::Node*> matmuls;
  for (torch::jit::Node* node : graph.nodes()) {
    if (node->kind() == c10::aten::matmul) matmuls.push_back(node);
  }
  int packed_count = 0;
  for (torch::jit::Node* node : matmuls) {
    const torch::jit::Node* weight_node = node->input(1)->node();
    if (weight_node->kind() != c10::prim::Constant) continue;
    const auto weight = torch::jit::toIValue(node->input(1));
    if (!weight || !weight->isTensor()) continue;
    const at::Tensor& w_in_out = weight->toTensor();  // [in, out], as FrozenLinearTranspose left it
    if (w_in_out.dim() != 2 || w_in_out.scalar_type() != dtype || !w_in_out.device().is_cpu()) continue;
    const at::Tensor packed = reorder.call(w_in_out.t().contiguous(), /*batch_size=*/1);  // [out, in] blocked
    // A oneDNN tensor cannot be a graph constant: it becomes an attribute of the frozen module instead.
    const std::string name = "oneDnnLinearWeight" + std::to_string(packed_count++);
    module.register_attribute(name, c10::TensorType::get(), packed);
    torch::jit::WithInsertPoint insert_before(node);
    torch::jit::Value* packed_value = graph.insertGetAttr(self, name);
    torch::jit::Value* none = graph.insertConstant(c10::IValue());
    torch::jit::Value* attr = graph.insertConstant(std::string("none"));
    torch::jit::Value* scalars =
        graph.insertNode(graph.createList(c10::OptionalType::create(c10::NumberType::get()), {}))->output();
    torch::jit::Value* output = graph.insert(linear, {node->input(0), packed_value, none, attr, scalars, none});
    output->setType(node->output()->type());
    node->output()->replaceAllUsesWith(output);
    node->destroy();
  }
  torch::jit::EliminateDeadCode(graph.block());
  return packed_count;
}

}  // namespace

PreparedGraph PrepareForInference(torch::jit::Module module, const c10::Device& device, c10::ScalarType dtype,
                                  bool optimize) {
  if (!optimize) return {std::move(module), "as exported (optimizeGraph is off)"};
  // On CUDA the decode step is replayed as CUDA graphs, which already remove the per-op overhead that
  // freezing saves on the CPU; the GPU path stays as measured until it has run on a GPU.
  if (!device.is_cpu()) return {std::move(module), "as exported (graph optimization is for the CPU)"};
  // libtorch's CPU float16 matmul on the transposed weights rounds more than its linear does (a Qwen2 test
  // model's greedy token lost 0.028 nats against 0.02 before); float16 on the CPU is slow either way.
  if (dtype == c10::kHalf) return {std::move(module), "as exported (float16 on the CPU is not optimized)"};
  try {
    torch::jit::Module frozen = torch::jit::freeze(module);
    torch::jit::Module optimized = torch::jit::optimize_for_inference(frozen);
    const int64_t replaced = UseOneDnnLinear(optimized, dtype);
    if (replaced == 0) return {std::move(optimized), "frozen, optimized for inference"};
    return {std::move(optimized), "frozen, optimized for inference, " + std::to_string(replaced) + " oneDNN linear layers"};
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
