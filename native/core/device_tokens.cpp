#include "device_tokens.h"

#include <algorithm>

#include <ATen/ATen.h>

#include "device_copy.h"

namespace torchgen {
namespace {
constexpr int64_t kUnknown = -1;  // token ids are >= 0 (Scheduler::Submit checks prompts; the model makes the rest)
}  // namespace

DeviceTokens::DeviceTokens(int64_t rows, const c10::Device& device)
    : buffer_(at::zeros({rows, 1}, at::TensorOptions().dtype(at::kLong).device(device))),
      host_(at::empty({rows}, at::TensorOptions().dtype(at::kLong).pinned_memory(device.is_cuda()))),
      mirror_(static_cast<size_t>(rows), kUnknown) {}

at::Tensor DeviceTokens::Feed(const std::vector<int64_t>& tokens) {
  const auto count = static_cast<int64_t>(tokens.size());
  at::Tensor rows = buffer_.narrow(0, 0, count);
  if (std::equal(tokens.begin(), tokens.end(), mirror_.begin())) {
    reused_ += 1;
    return rows;
  }
  // All rows in one copy: a few bytes each, where one copy per changed row would be one launch each.
  rows.copy_(HostToDevice(tokens, {count, 1}, buffer_.device()), /*non_blocking=*/true);
  std::copy(tokens.begin(), tokens.end(), mirror_.begin());
  return rows;
}

void DeviceTokens::Forget(int64_t count) { std::fill_n(mirror_.begin(), count, kUnknown); }

void DeviceTokens::WriteArgmax(const at::Tensor& logits) {
  at::Tensor rows = buffer_.narrow(0, 0, logits.size(0));
  at::argmax_out(rows, logits, /*dim=*/1, /*keepdim=*/true);
}

std::vector<int64_t> DeviceTokens::Read(int64_t count) {
  at::Tensor host = host_.narrow(0, 0, count);
  // A blocking copy into pinned memory is an asynchronous copy and one wait for the stream: the ids are
  // needed on the host at once (the finish rules decide which rows go on).
  host.copy_(buffer_.narrow(0, 0, count).squeeze(1));
  const int64_t* ids = host.data_ptr<int64_t>();
  std::copy(ids, ids + count, mirror_.begin());
  return {ids, ids + count};
}

}  // namespace torchgen
