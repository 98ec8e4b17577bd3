#include "executor.h"

#include "kv_cache_executor.h"
#include "logits_executor.h"
#include "model.h"

namespace torchgen {

std::unique_ptr<Executor> MakeExecutor(Model& model, int64_t block_tokens) {
  if (model.spec().interface == ModelInterface::kKvCache) {
    return std::make_unique<KvCacheExecutor>(model, block_tokens);
  }
  return std::make_unique<LogitsExecutor>(model);
}

}  // namespace torchgen
