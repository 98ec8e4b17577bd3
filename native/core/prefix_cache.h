// The index of automatic prefix caching: which token prefixes have their keys and values kept, in blocks
// of a fixed number of tokens, and which block to give up when the budget is spent.
//
// A block is named by its parent (the block before it, or none) and its own tokens, so it matches only a
// sequence that begins with exactly the tokens its keys and values were computed from: the match is
// exact, never a hash's guess. Only a leaf (a block no cached block extends) is evicted, least recently
// used first, so every cached block's whole prefix is cached too and a parent's id is never reused while a
// child still names it. The blocks' contents live in the executor's block storage, indexed by the ids
// handed out here. Engine thread only; no libtorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace torchgen {

struct PrefixCacheStats {
  int64_t block_tokens = 0;
  int64_t capacity_blocks = 0;
  int64_t cached_tokens = 0;  // tokens whose keys and values are kept now
  int64_t hits = 0;           // lookups that found at least one block
  int64_t hit_tokens = 0;     // prompt tokens those lookups did not have to prefill
  int64_t evictions = 0;      // blocks given up for newer ones
};

class PrefixCache {
 public:
  PrefixCache(int64_t block_tokens, int64_t capacity_blocks);

  // The ids of the longest run of cached blocks that begins `tokens` and covers at most `max_tokens` of
  // them, in order (block i holds positions [i * block_tokens, (i + 1) * block_tokens)). Marks them used.
  std::vector<int64_t> Lookup(const std::vector<int64_t>& tokens, int64_t max_tokens);
  // Counts a request that starts from `blocks` cached blocks (a lookup may be repeated while a request
  // waits, so lookups do not count themselves).
  void CountHit(int64_t blocks);

  struct NewBlock {
    int64_t index;  // the block's place in the sequence
    int64_t id;     // where its keys and values go
  };
  // Makes room for the whole blocks of tokens[0, length) that are not cached yet, evicting as needed, and
  // returns them in order: the caller copies each one's keys and values into block storage at `id` before
  // the next call. Stops early when nothing more can be evicted (every block is on this sequence's path).
  std::vector<NewBlock> Insert(const std::vector<int64_t>& tokens, int64_t length);

  // Drops a block Insert just handed out whose contents could not be saved (a leaf: the last added).
  void Forget(int64_t id);

  int64_t block_tokens() const { return block_tokens_; }
  PrefixCacheStats Stats() const;

 private:
  static constexpr int64_t kNone = -1;
  struct Block {
    int64_t parent = kNone;
    std::vector<int64_t> tokens;  // block_tokens of them while the block is in use
    int64_t children = 0;         // cached blocks whose parent this is
    uint64_t last_used = 0;
    size_t key = 0;
    bool in_use = false;
  };
  static size_t KeyOf(int64_t parent, const int64_t* tokens, int64_t count);
  // The cached child of `parent` holding tokens[0, block_tokens_), or kNone.
  int64_t Find(int64_t parent, const int64_t* tokens) const;
  // A free block id, evicting the least recently used leaf other than `keep` if none is free; kNone when
  // every block is `keep` or has children.
  int64_t Allocate(int64_t keep);
  // Frees a leaf block; `counted`: as an eviction.
  void Evict(int64_t id, bool counted = true);

  int64_t block_tokens_;
  std::vector<Block> blocks_;
  std::vector<int64_t> free_;
  std::unordered_multimap<size_t, int64_t> by_key_;
  uint64_t clock_ = 0;
  int64_t in_use_ = 0;
  int64_t hits_ = 0;
  int64_t hit_tokens_ = 0;
  int64_t evictions_ = 0;
};

}  // namespace torchgen
