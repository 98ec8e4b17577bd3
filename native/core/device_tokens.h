// The decode step's input tokens, kept on the model's device from one step to the next. When every row of
// a step is greedy, the step itself writes each row's argmax into this buffer (inside the CUDA graph on a
// GPU), so the next step's input is already where the forward reads it: the host copies the ids back only
// to stream them and apply the finish rules, and copies tokens in only when the buffer does not hold them
// (a row sampled on the host, a row that joined from prefill or moved to another slot).
//
// A host mirror of the buffer makes that decision without reading the device. It describes the buffer's
// rows, whatever request occupies them, so the buffer needs no bookkeeping when the scheduler moves rows
// between slots: a row whose token differs from the mirror is simply copied in again.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

namespace torchgen {

class DeviceTokens {
 public:
  // A buffer of `rows` tokens ([rows, 1] int64) on `device`, its contents unknown.
  DeviceTokens(int64_t rows, const c10::Device& device);

  // The buffer's first tokens.size() rows, [B, 1], holding `tokens`: one host-to-device copy (pinned,
  // without waiting) when the mirror says any of them differs, none otherwise.
  at::Tensor Feed(const std::vector<int64_t>& tokens);
  // The whole buffer, [rows, 1]: its address never changes (a CUDA graph reads and writes it).
  const at::Tensor& buffer() const { return buffer_; }
  // The device is about to write the first `count` rows (a graph's replay): their contents are unknown.
  void Forget(int64_t count);
  // Writes the argmax of each row of `logits` [B, V] (the first on ties) into the first B rows. A device op
  // only: the caller forgets those rows (outside a graph capture, which records no host work) and reads them
  // back with Read().
  void WriteArgmax(const at::Tensor& logits);
  // Copies the first `count` rows to the host (into pinned memory: the step's one synchronisation) and
  // records them as what the buffer holds.
  std::vector<int64_t> Read(int64_t count);
  // Feed() calls that copied nothing, since construction. Any thread.
  int64_t reused() const { return reused_; }

 private:
  at::Tensor buffer_;             // [rows, 1] int64 on the device
  at::Tensor host_;               // [rows] int64 on the host: pinned when the device is CUDA
  std::vector<int64_t> mirror_;   // what each row of buffer_ holds; kUnknown when not known
  std::atomic<int64_t> reused_{0};
};

}  // namespace torchgen
