// How one request picks its tokens. Concrete values only: the TypeScript layer resolves every default.
#pragma once

#include <cstdint>

namespace torchgen {

struct SamplingParams {
  double temperature = 0.0;         // 0 = greedy (argmax); otherwise logits / temperature
  int64_t top_k = 0;                // 0 = off; keep the k most likely tokens
  double top_p = 1.0;               // 1 = off; keep the smallest set whose probability reaches top_p
  double min_p = 0.0;               // 0 = off; drop tokens less likely than min_p x the most likely one
  double repetition_penalty = 1.0;  // 1 = off; as Hugging Face's, over prompt and generated tokens
  double presence_penalty = 0.0;    // 0 = off; as OpenAI's, over generated tokens
  double frequency_penalty = 0.0;   // 0 = off; as OpenAI's, over generated tokens
  uint64_t seed = 0;                // the request's random stream; the same seed gives the same tokens
  int64_t logprobs = 0;             // 0 = off; otherwise also report the top `logprobs` alternatives

  bool UsesPenalties() const {
    return repetition_penalty != 1.0 || presence_penalty != 0.0 || frequency_penalty != 0.0;
  }
};

}  // namespace torchgen
