// The bitmasks of a step's constrained rows, computed on a worker thread while the engine thread runs the
// forward pass (Begin before it, Take after it), and handed to the sampler as one tensor on the model's
// device. A step without constrained rows costs nothing here.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

namespace torchgen {

class Constraint;

class ConstraintMasks {
 public:
  explicit ConstraintMasks(int64_t vocab_size);
  // Waits for the step in progress and joins the worker.
  ~ConstraintMasks();
  ConstraintMasks(const ConstraintMasks&) = delete;
  ConstraintMasks& operator=(const ConstraintMasks&) = delete;

  // Starts computing the masks of `rows` (null for an unconstrained row) and returns at once. The worker
  // holds the constraints until done, so a row retired meanwhile is safe; a step begun and never taken
  // (its forward pass failed) is waited for and dropped by the next Begin or Take.
  void Begin(std::vector<std::shared_ptr<Constraint>> rows);

  // The allowed tokens of `rows` as [B, ceil(V / 32)] int32 words on `device` (every bit set for an
  // unconstrained row), or an undefined tensor when no row is constrained. Waits for the masks Begin
  // started for the same rows, or computes them now.
  at::Tensor Take(const std::vector<std::shared_ptr<Constraint>>& rows, const c10::Device& device);

  // Whether every row's mask allows its token ids[i] (true at once when no row is constrained), for a step
  // whose tokens were picked without the masks (argmax on the device). Waits for the masks like Take; when
  // one refuses, keeps them for the Take of the same rows that samples the step instead.
  bool AllowsAll(const std::vector<std::shared_ptr<Constraint>>& rows, const std::vector<int64_t>& ids);

 private:
  void Work();
  void Compute();
  void Wait();

  const int64_t words_;  // per row
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::shared_ptr<Constraint>> rows_;  // the step being computed or done
  std::vector<int32_t> masks_;                     // [rows_.size(), words_]
  bool pending_ = false;                           // guarded by mutex_: Begin posted work not yet done
  bool stopping_ = false;                          // guarded by mutex_
  std::thread worker_;                             // started on the first constrained step
};

// Whether any of the rows is constrained (a step without is the common case and does no mask work).
bool AnyConstrained(const std::vector<std::shared_ptr<Constraint>>& rows);

}  // namespace torchgen
