// How one engine step spends its prompt-token budget across the requests being prefilled.
//
// The rows being prefilled sit in consecutive cache slots and go through one forward of [rows, width]
// tokens: each row feeds min(its remaining prompt, width) tokens, and a row with fewer is padded to the
// width. The budget bounds rows x width (padding costs as much as a real token). Among the widths the
// rows' own remaining lengths suggest, the plan takes the one that completes the most prompts, then the
// one that feeds the most real tokens: short prompts beside a long one are finished in one step while the
// long one advances by their length, and a long prompt alone gets the whole budget.
#pragma once

#include <cstdint>
#include <vector>

namespace torchgen {

struct PrefillPlan {
  int64_t rows = 0;   // the first `rows` rows (in slot order) take part
  int64_t width = 0;  // tokens per row in the forward, padding included
  std::vector<int64_t> chunks;  // real tokens each of those rows feeds: min(remaining, width)
};

// remaining: prompt tokens still to feed, per row in slot order (each >= 1). budget >= 1.
PrefillPlan PlanPrefill(const std::vector<int64_t>& remaining, int64_t budget);

}  // namespace torchgen
