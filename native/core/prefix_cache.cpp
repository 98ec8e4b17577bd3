#include "prefix_cache.h"

#include <algorithm>
#include <functional>

namespace torchgen {

PrefixCache::PrefixCache(int64_t block_tokens, int64_t capacity_blocks)
    : block_tokens_(block_tokens), blocks_(static_cast<size_t>(std::max<int64_t>(capacity_blocks, 0))) {
  free_.reserve(blocks_.size());
  // Handed out from the lowest id, so a small working set stays in one corner of the storage.
  for (int64_t id = static_cast<int64_t>(blocks_.size()) - 1; id >= 0; --id) free_.push_back(id);
}

size_t PrefixCache::KeyOf(int64_t parent, const int64_t* tokens, int64_t count) {
  size_t key = std::hash<int64_t>{}(parent);
  for (int64_t i = 0; i < count; ++i) {
    key ^= std::hash<int64_t>{}(tokens[i]) + 0x9e3779b97f4a7c15ULL + (key << 6) + (key >> 2);
  }
  return key;
}

int64_t PrefixCache::Find(int64_t parent, const int64_t* tokens) const {
  const auto range = by_key_.equal_range(KeyOf(parent, tokens, block_tokens_));
  for (auto it = range.first; it != range.second; ++it) {
    const Block& block = blocks_[it->second];
    if (block.parent == parent && std::equal(block.tokens.begin(), block.tokens.end(), tokens)) return it->second;
  }
  return kNone;
}

std::vector<int64_t> PrefixCache::Lookup(const std::vector<int64_t>& tokens, int64_t max_tokens) {
  std::vector<int64_t> found;
  const int64_t limit = std::min<int64_t>(max_tokens, static_cast<int64_t>(tokens.size()));
  int64_t parent = kNone;
  for (int64_t start = 0; start + block_tokens_ <= limit; start += block_tokens_) {
    const int64_t id = Find(parent, tokens.data() + start);
    if (id == kNone) break;
    blocks_[id].last_used = ++clock_;
    found.push_back(id);
    parent = id;
  }
  return found;
}

void PrefixCache::CountHit(int64_t blocks) {
  if (blocks <= 0) return;
  hits_ += 1;
  hit_tokens_ += blocks * block_tokens_;
}

std::vector<PrefixCache::NewBlock> PrefixCache::Insert(const std::vector<int64_t>& tokens, int64_t length) {
  std::vector<NewBlock> added;
  const int64_t limit = std::min<int64_t>(length, static_cast<int64_t>(tokens.size()));
  int64_t parent = kNone;
  for (int64_t start = 0; start + block_tokens_ <= limit; start += block_tokens_) {
    const int64_t* block_tokens = tokens.data() + start;
    int64_t id = Find(parent, block_tokens);
    if (id == kNone) {
      id = Allocate(parent);
      if (id == kNone) break;
      Block& block = blocks_[id];
      block.parent = parent;
      block.tokens.assign(block_tokens, block_tokens + block_tokens_);
      block.children = 0;
      block.key = KeyOf(parent, block_tokens, block_tokens_);
      block.in_use = true;
      by_key_.emplace(block.key, id);
      if (parent != kNone) blocks_[parent].children += 1;
      in_use_ += 1;
      added.push_back({start / block_tokens_, id});
    }
    blocks_[id].last_used = ++clock_;
    parent = id;
  }
  return added;
}

int64_t PrefixCache::Allocate(int64_t keep) {
  if (!free_.empty()) {
    const int64_t id = free_.back();
    free_.pop_back();
    return id;
  }
  int64_t victim = kNone;
  for (int64_t id = 0; id < static_cast<int64_t>(blocks_.size()); ++id) {
    const Block& block = blocks_[id];
    if (!block.in_use || block.children > 0 || id == keep) continue;
    if (victim == kNone || block.last_used < blocks_[victim].last_used) victim = id;
  }
  if (victim == kNone) return kNone;
  Evict(victim);
  free_.pop_back();  // Evict pushed the victim's id
  return victim;
}

void PrefixCache::Evict(int64_t id, bool counted) {
  Block& block = blocks_[id];
  const auto range = by_key_.equal_range(block.key);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == id) {
      by_key_.erase(it);
      break;
    }
  }
  if (block.parent != kNone) blocks_[block.parent].children -= 1;
  block = Block{};
  in_use_ -= 1;
  if (counted) evictions_ += 1;
  free_.push_back(id);
}

void PrefixCache::Forget(int64_t id) { Evict(id, /*counted=*/false); }

PrefixCacheStats PrefixCache::Stats() const {
  PrefixCacheStats stats;
  stats.block_tokens = block_tokens_;
  stats.capacity_blocks = static_cast<int64_t>(blocks_.size());
  stats.cached_tokens = in_use_ * block_tokens_;
  stats.hits = hits_;
  stats.hit_tokens = hit_tokens_;
  stats.evictions = evictions_;
  return stats;
}

}  // namespace torchgen
