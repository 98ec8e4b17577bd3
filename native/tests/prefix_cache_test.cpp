#include <gtest/gtest.h>

#include "prefix_cache.h"

namespace torchgen {
namespace {

std::vector<int64_t> Sequence(std::initializer_list<int64_t> blocks, int64_t block_tokens = 2) {
  std::vector<int64_t> tokens;
  for (int64_t block : blocks) {
    for (int64_t i = 0; i < block_tokens; ++i) tokens.push_back(block);
  }
  return tokens;
}

TEST(PrefixCache, MatchesWholeBlocksOfExactlyTheSamePrefix) {
  PrefixCache cache(2, 8);
  const auto added = cache.Insert(Sequence({1, 2, 3}), 6);
  ASSERT_EQ(added.size(), 3U);
  EXPECT_EQ(cache.Lookup(Sequence({1, 2, 3}), 6).size(), 3U);
  EXPECT_EQ(cache.Lookup(Sequence({1, 2, 3}), 5).size(), 2U);  // at most max_tokens
  EXPECT_EQ(cache.Lookup(Sequence({1, 2, 9}), 6).size(), 2U);
  // The same block after another prefix is another block.
  EXPECT_EQ(cache.Lookup(Sequence({2, 3}), 4).size(), 0U);
  EXPECT_EQ(cache.Lookup({1, 1, 2}, 3).size(), 1U);  // a partial block never matches
  // Inserting what is cached adds nothing.
  EXPECT_TRUE(cache.Insert(Sequence({1, 2}), 4).empty());
}

TEST(PrefixCache, EvictsTheLeastRecentlyUsedLeafAndKeepsEveryCachedBlocksPrefix) {
  PrefixCache cache(2, 3);
  cache.Insert(Sequence({1, 2}), 4);   // 1 <- 2
  cache.Insert(Sequence({5}), 2);      // 5
  cache.Lookup(Sequence({5}), 2);      // 5 used last: 2 is the oldest leaf
  const auto added = cache.Insert(Sequence({7}), 2);
  ASSERT_EQ(added.size(), 1U);
  EXPECT_EQ(cache.Lookup(Sequence({1, 2}), 4).size(), 1U);  // 2 evicted, its parent kept
  EXPECT_EQ(cache.Lookup(Sequence({5}), 2).size(), 1U);
  EXPECT_EQ(cache.Stats().evictions, 1);
  EXPECT_EQ(cache.Stats().cached_tokens, 6);
}

TEST(PrefixCache, NeverEvictsTheSequencesOwnPath) {
  PrefixCache cache(2, 1);
  const auto added = cache.Insert(Sequence({1, 2, 3}), 6);
  ASSERT_EQ(added.size(), 1U);  // the second block would need the first's room
  EXPECT_EQ(cache.Lookup(Sequence({1, 2, 3}), 6).size(), 1U);
}

TEST(PrefixCache, ForgetsABlockThatCouldNotBeSaved) {
  PrefixCache cache(2, 4);
  const auto added = cache.Insert(Sequence({1, 2}), 4);
  cache.Forget(added[1].id);
  EXPECT_EQ(cache.Lookup(Sequence({1, 2}), 4).size(), 1U);
  EXPECT_EQ(cache.Stats().evictions, 0);
  EXPECT_EQ(cache.Stats().cached_tokens, 2);
}

TEST(PrefixCache, CountsHitsOnlyWhenTold) {
  PrefixCache cache(2, 4);
  cache.Insert(Sequence({1, 2}), 4);
  cache.Lookup(Sequence({1, 2}), 4);
  EXPECT_EQ(cache.Stats().hits, 0);
  cache.CountHit(2);
  cache.CountHit(0);
  EXPECT_EQ(cache.Stats().hits, 1);
  EXPECT_EQ(cache.Stats().hit_tokens, 4);
}

}  // namespace
}  // namespace torchgen
