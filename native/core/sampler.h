// Picks the next token from logits. Greedy for now; sampling options arrive with the generation API.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace torchgen {

// logits: [V] float32 on any device. Returns the index of the largest logit (the first one on ties,
// as torch.argmax and Hugging Face's greedy search do).
int64_t SampleGreedy(const at::Tensor& logits);

}  // namespace torchgen
