#include <gtest/gtest.h>

#include "prefill_plan.h"

namespace torchgen {
namespace {

TEST(PrefillPlan, ALongPromptAloneGetsTheWholeBudget) {
  const PrefillPlan plan = PlanPrefill({1000}, 256);
  EXPECT_EQ(plan.rows, 1);
  EXPECT_EQ(plan.width, 256);
  EXPECT_EQ(plan.chunks, std::vector<int64_t>({256}));
}

TEST(PrefillPlan, ShortPromptsBesideALongOneFinishTogether) {
  const PrefillPlan plan = PlanPrefill({1000, 10, 12, 9}, 256);
  EXPECT_EQ(plan.rows, 4);
  EXPECT_EQ(plan.width, 12);
  EXPECT_EQ(plan.chunks, std::vector<int64_t>({12, 10, 12, 9}));
}

TEST(PrefillPlan, TheBudgetBoundsRowsTimesWidth) {
  const PrefillPlan plan = PlanPrefill({40, 40, 40, 40, 40, 40, 40, 40}, 256);
  EXPECT_EQ(plan.rows, 6);
  EXPECT_LE(plan.rows * plan.width, 256);
}

TEST(PrefillPlan, AtLeastOneRowAdvancesWhateverTheBudget) {
  const PrefillPlan plan = PlanPrefill({5, 5}, 1);
  EXPECT_EQ(plan.rows, 1);
  EXPECT_EQ(plan.chunks, std::vector<int64_t>({1}));
}

}  // namespace
}  // namespace torchgen
