#include "sampler.h"

#include <ATen/ATen.h>

namespace torchgen {

int64_t SampleGreedy(const at::Tensor& logits) { return logits.argmax(-1).item<int64_t>(); }

}  // namespace torchgen
