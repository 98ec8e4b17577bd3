#include "constraint_masks.h"

#include <algorithm>
#include <utility>

#include "constraint.h"
#include "device_copy.h"

namespace torchgen {

bool AnyConstrained(const std::vector<std::shared_ptr<Constraint>>& rows) {
  return std::any_of(rows.begin(), rows.end(), [](const auto& row) { return row != nullptr; });
}

ConstraintMasks::ConstraintMasks(int64_t vocab_size) : words_((vocab_size + 31) / 32) {}

ConstraintMasks::~ConstraintMasks() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void ConstraintMasks::Compute() {
  masks_.assign(rows_.size() * static_cast<size_t>(words_), -1);  // -1: all 32 bits set
  for (size_t row = 0; row < rows_.size(); ++row) {
    if (rows_[row]) rows_[row]->ComputeMask(reinterpret_cast<uint32_t*>(masks_.data() + row * words_));
  }
}

void ConstraintMasks::Work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    changed_.wait(lock, [this] { return stopping_ || pending_; });
    if (stopping_) return;
    // rows_ and masks_ belong to this thread until pending_ is cleared: the engine thread waits for that
    // before it reads or replaces them.
    lock.unlock();
    Compute();
    lock.lock();
    pending_ = false;
    changed_.notify_all();
  }
}

void ConstraintMasks::Wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return !pending_; });
}

void ConstraintMasks::Begin(std::vector<std::shared_ptr<Constraint>> rows) {
  Wait();
  if (!AnyConstrained(rows)) {
    rows_.clear();
    return;
  }
  if (!worker_.joinable()) worker_ = std::thread([this] { Work(); });
  {
    std::lock_guard<std::mutex> lock(mutex_);
    rows_ = std::move(rows);
    pending_ = true;
  }
  changed_.notify_all();
}

at::Tensor ConstraintMasks::Take(const std::vector<std::shared_ptr<Constraint>>& rows, const c10::Device& device) {
  Wait();
  if (!AnyConstrained(rows)) return at::Tensor();
  if (rows_ != rows) {
    rows_ = rows;
    Compute();
  }
  at::Tensor masks = HostToDevice(masks_, {static_cast<int64_t>(rows.size()), words_}, device);  // [B, W] int32
  rows_.clear();  // a later Take of the same rows (their constraints advanced since) must compute afresh
  return masks;
}

bool ConstraintMasks::AllowsAll(const std::vector<std::shared_ptr<Constraint>>& rows,
                                const std::vector<int64_t>& ids) {
  Wait();
  if (!AnyConstrained(rows)) return true;
  if (rows_ != rows) {
    rows_ = rows;
    Compute();
  }
  for (size_t row = 0; row < rows.size(); ++row) {
    const int64_t id = ids[row];
    // An id past the mask (a model whose logits outnumber its vocabulary) goes through Sample, which fails it.
    if (id < 0 || id / 32 >= words_) return false;
    const auto word = static_cast<uint32_t>(masks_[row * static_cast<size_t>(words_) + static_cast<size_t>(id / 32)]);
    if (((word >> (id % 32)) & 1U) == 0) return false;  // rows_ stays: Take reuses these masks
  }
  rows_.clear();  // as in Take: the constraints advance with these tokens
  return true;
}

}  // namespace torchgen
