// What the engine reports about requests: the tokens of each step and how each request ended.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sampler.h"

namespace torchgen {

enum class FinishReason { kNone, kStop, kLength, kAbort, kError };

const char* FinishReasonName(FinishReason reason);

// Tokens produced for one request since the last event; the last event of a request has a finish reason.
struct TokenEvent {
  uint64_t request_id = 0;
  std::vector<int64_t> token_ids;
  // One per token id when the request asked for logprobs; empty otherwise.
  std::vector<SampledToken> logprobs;
  FinishReason finish = FinishReason::kNone;
  std::string error_code;  // set when finish == kError
  std::string error_message;
};

// Called on the engine thread with every event of one step. Must not block for long or throw.
using EventSink = std::function<void(std::vector<TokenEvent>&& events)>;

}  // namespace torchgen
