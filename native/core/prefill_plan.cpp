#include "prefill_plan.h"

#include <algorithm>

namespace torchgen {

PrefillPlan PlanPrefill(const std::vector<int64_t>& remaining, int64_t budget) {
  PrefillPlan best;
  if (remaining.empty() || budget < 1) return best;
  int64_t best_finished = -1;
  int64_t best_fed = -1;
  for (int64_t candidate : remaining) {
    const int64_t width = std::min(candidate, budget);
    const int64_t rows = std::min<int64_t>(static_cast<int64_t>(remaining.size()), std::max<int64_t>(1, budget / width));
    int64_t finished = 0;
    int64_t fed = 0;
    for (int64_t row = 0; row < rows; ++row) {
      finished += remaining[row] <= width ? 1 : 0;
      fed += std::min(remaining[row], width);
    }
    if (finished > best_finished || (finished == best_finished && fed > best_fed)) {
      best_finished = finished;
      best_fed = fed;
      best.rows = rows;
      best.width = width;
    }
  }
  best.chunks.resize(static_cast<size_t>(best.rows));
  int64_t widest = 0;
  for (int64_t row = 0; row < best.rows; ++row) {
    best.chunks[row] = std::min(remaining[row], best.width);
    widest = std::max(widest, best.chunks[row]);
  }
  best.width = widest;  // no row needs more: a plan never pads beyond its longest chunk
  return best;
}

}  // namespace torchgen
