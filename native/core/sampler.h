// Picks the next token of every row of a batch on the model's device, each row with its own parameters.
//
// Randomness comes from a counter-based hash, not from a shared generator: each row's key is a hash of
// (seed, step) made on the host, and the noise per token id a hash of (key, id) made on the device in tensor
// ops over the whole batch. A row's tokens depend only on its own seed and position, so a request
// samples the same tokens alone or beside any other requests.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "sampling_params.h"

namespace torchgen {

// What the sampler needs to know about one row besides its logits.
struct SamplerRow {
  const SamplingParams* params = nullptr;
  const std::vector<int64_t>* prompt = nullptr;     // for the repetition penalty
  const std::vector<int64_t>* generated = nullptr;  // for all three penalties
  int64_t step = 0;                                 // tokens generated so far: the random stream's counter
};

struct SampledToken {
  int64_t id = -1;
  // Filled when the row asked for logprobs: log-probability of `id` under the model's distribution
  // (log_softmax of the raw logits), and the most likely alternatives, best first.
  float logprob = 0.0F;
  std::vector<std::pair<int64_t, float>> top;
};

// logits: [B, V] float32 on any device; rows.size() == B. One device-to-host copy in all. `allowed`, when
// defined, is the constrained decoding's bitmask [B, ceil(V / 32)] int32 on the logits' device (bit id % 32
// of word id / 32 set where token id may be drawn; all bits set for a free row, which it leaves untouched).
std::vector<SampledToken> SampleBatch(const at::Tensor& logits, const std::vector<SamplerRow>& rows,
                                      const at::Tensor& allowed = at::Tensor());

// The penalised, masked and filtered logits that SampleBatch draws from ([B, V] float32, -inf where
// filtered, temperature applied), exposed for tests that compare them with Hugging Face's logits processors.
at::Tensor ProcessLogits(const at::Tensor& logits, const std::vector<SamplerRow>& rows,
                         const at::Tensor& allowed = at::Tensor());

// Sets the logits of tokens that `allowed` (the bitmask above) leaves out to -inf, in place.
void ApplyAllowedMask(at::Tensor& logits, const at::Tensor& allowed);

// Applies the repetition, presence and frequency penalties of each row, in place (the first stage of
// ProcessLogits).
void ApplyPenalties(at::Tensor& logits, const std::vector<SamplerRow>& rows);

}  // namespace torchgen
