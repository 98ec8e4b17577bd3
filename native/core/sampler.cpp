#include "sampler.h"

#include <algorithm>
#include <limits>

#include <ATen/ATen.h>

#include "device_copy.h"

namespace torchgen {
namespace {

constexpr int64_t kMask32 = 0xFFFFFFFFLL;

// A 32-bit integer hash (the "lowbias32" finalizer): good avalanche, cheap in tensor ops.
uint32_t Hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

// The same hash on an int64 tensor holding values in [0, 2^32): products wrap modulo 2^64 and the mask
// keeps the low 32 bits, which is what uint32 arithmetic gives.
at::Tensor Hash32(at::Tensor x) {
  x = at::bitwise_xor(x, at::bitwise_right_shift(x, 16));
  x = at::bitwise_and(x * 0x7feb352dLL, kMask32);
  x = at::bitwise_xor(x, at::bitwise_right_shift(x, 15));
  x = at::bitwise_and(x * 0x846ca68bLL, kMask32);
  return at::bitwise_xor(x, at::bitwise_right_shift(x, 16));
}

// One key per (seed, step): the row's stream position.
int64_t StreamKey(uint64_t seed, int64_t step) {
  const uint32_t low = static_cast<uint32_t>(seed);
  const uint32_t high = static_cast<uint32_t>(seed >> 32);
  return static_cast<int64_t>(Hash32(low ^ Hash32(high ^ Hash32(static_cast<uint32_t>(step) + 0x9e3779b9U))));
}

// Exp(1) noise [B, V] from the rows' keys; argmax(p / noise) draws a token with probability p.
at::Tensor ExponentialNoise(const at::Tensor& keys, int64_t vocab, const at::TensorOptions& long_options) {
  at::Tensor token = at::arange(vocab, long_options).unsqueeze(0);                  // [1, V]
  at::Tensor x = Hash32(at::bitwise_xor(keys.unsqueeze(1), at::bitwise_and(token * 0x9e3779b1LL, kMask32)));
  // 24 bits and a half, so that u is never 0; float32 rounds the top value, (2^24 - 0.5) / 2^24, up to exactly 1,
  // whose noise would be 0: log(0) = -inf made that token win outright (+inf) about once in 340 steps of a
  // 49k vocabulary, and a NaN where it was filtered or masked (-inf + inf). The clamp keeps it below 1.
  at::Tensor u = (at::bitwise_right_shift(x, 8).to(at::kFloat) + 0.5F) / static_cast<float>(1 << 24);  // [B, V]
  return -at::log(u.clamp_max_(1.0F - 1.0F / static_cast<float>(1 << 24)));
}

bool AnyRow(const std::vector<SamplerRow>& rows, bool (*predicate)(const SamplingParams&)) {
  return std::any_of(rows.begin(), rows.end(), [&](const SamplerRow& row) { return predicate(*row.params); });
}

at::Tensor RowParam(const std::vector<SamplerRow>& rows, double (*get)(const SamplingParams&),
                    const at::Device& device) {
  std::vector<float> values(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) values[i] = static_cast<float>(get(*rows[i].params));
  return HostToDevice(values, {static_cast<int64_t>(values.size())}, device);
}

// Every host value goes to the device without waiting for it (device_copy.h): a step's only
// synchronisation is the copy of the sampled ids back to the host.
at::Tensor HostIds(const std::vector<int64_t>& ids, const at::Device& device) {
  return HostToDevice(ids, {static_cast<int64_t>(ids.size())}, device);
}

}  // namespace

void ApplyPenalties(at::Tensor& logits, const std::vector<SamplerRow>& rows) {
  const at::Device device = logits.device();
  for (size_t i = 0; i < rows.size(); ++i) {
    const SamplingParams& params = *rows[i].params;
    if (!params.UsesPenalties()) continue;
    at::Tensor row = logits.select(0, static_cast<int64_t>(i));  // [V]
    if (params.repetition_penalty != 1.0) {
      // Hugging Face's RepetitionPenaltyLogitsProcessor: every token seen so far, prompt included, once.
      std::vector<int64_t> seen(*rows[i].prompt);
      seen.insert(seen.end(), rows[i].generated->begin(), rows[i].generated->end());
      std::sort(seen.begin(), seen.end());
      seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
      at::Tensor ids = HostIds(seen, device);
      at::Tensor values = row.index_select(0, ids);
      const double penalty = params.repetition_penalty;
      row.index_copy_(0, ids, at::where(values < 0, values * penalty, values / penalty));
    }
    if ((params.presence_penalty != 0.0 || params.frequency_penalty != 0.0) && !rows[i].generated->empty()) {
      // OpenAI's definition: logit -= frequency x count + presence x (count > 0), over generated tokens.
      at::Tensor counts = at::zeros_like(row);
      at::Tensor ids = HostIds(*rows[i].generated, device);
      counts.index_add_(0, ids, at::ones({ids.size(0)}, row.options()));
      row.sub_(counts * params.frequency_penalty + (counts > 0).to(row.scalar_type()) * params.presence_penalty);
    }
  }
}

void ApplyAllowedMask(at::Tensor& logits, const at::Tensor& allowed) {
  const int64_t vocab = logits.size(1);
  // Bit b of word w is token 32 w + b: shift each word right by 0..31 and keep the low bit.
  at::Tensor shifts = at::arange(32, allowed.options());                                        // [32] int32
  at::Tensor bits = at::bitwise_and(at::bitwise_right_shift(allowed.unsqueeze(2), shifts), 1);  // [B, W, 32]
  at::Tensor refused = bits.flatten(1).narrow(1, 0, vocab).eq(0);                               // [B, V] bool
  logits.masked_fill_(refused, -std::numeric_limits<float>::infinity());
}

at::Tensor ProcessLogits(const at::Tensor& raw, const std::vector<SamplerRow>& rows, const at::Tensor& allowed) {
  at::Tensor logits = raw.clone();  // [B, V] float32
  ApplyPenalties(logits, rows);
  // Before temperature and the filters, so that top-k, top-p and min-p choose among the allowed tokens.
  if (allowed.defined()) ApplyAllowedMask(logits, allowed);
  const at::Device device = logits.device();
  const int64_t vocab = logits.size(1);
  // Greedy rows are divided by 1; their argmax is taken before filtering anyway.
  at::Tensor temperature = RowParam(rows, [](const SamplingParams& p) { return p.temperature > 0 ? p.temperature : 1.0; }, device);
  logits.div_(temperature.unsqueeze(1));
  const bool filters = AnyRow(rows, [](const SamplingParams& p) { return p.top_k > 0 || p.top_p < 1.0 || p.min_p > 0.0; });
  if (!filters) return logits;

  // Filter in sorted order: top-k by rank, top-p by cumulative probability, then min-p, each on what the
  // previous one kept (Hugging Face's order: temperature, top-k, top-p, min-p).
  auto [sorted, order] = logits.sort(-1, /*descending=*/true);  // [B, V] each
  const float negative_infinity = -std::numeric_limits<float>::infinity();
  at::Tensor top_k = RowParam(rows, [](const SamplingParams& p) { return static_cast<double>(p.top_k > 0 ? p.top_k : 0); }, device);
  at::Tensor rank = at::arange(vocab, at::TensorOptions().dtype(at::kFloat).device(device)).unsqueeze(0);  // [1, V]
  sorted.masked_fill_((top_k.unsqueeze(1) > 0).logical_and(rank >= top_k.unsqueeze(1)), negative_infinity);
  at::Tensor top_p = RowParam(rows, [](const SamplingParams& p) { return p.top_p; }, device);
  at::Tensor probs = sorted.softmax(-1);
  // Keep a token while the probability before it is below top_p: the first token always stays.
  at::Tensor before = probs.cumsum(-1) - probs;
  sorted.masked_fill_(before > top_p.unsqueeze(1), negative_infinity);
  at::Tensor min_p = RowParam(rows, [](const SamplingParams& p) { return p.min_p; }, device);
  probs = sorted.softmax(-1);
  sorted.masked_fill_(probs < min_p.unsqueeze(1) * probs.narrow(1, 0, 1), negative_infinity);
  return at::empty_like(logits).scatter_(1, order, sorted);
}

std::vector<SampledToken> SampleBatch(const at::Tensor& raw, const std::vector<SamplerRow>& rows,
                                      const at::Tensor& allowed) {
  const int64_t batch = raw.size(0);
  const int64_t vocab = raw.size(1);
  const at::Device device = raw.device();
  const auto long_options = at::TensorOptions().dtype(at::kLong).device(device);

  at::Tensor processed = ProcessLogits(raw, rows, allowed);  // [B, V]
  at::Tensor chosen;                                // [B] int64
  const bool any_random = AnyRow(rows, [](const SamplingParams& p) { return p.temperature > 0; });
  at::Tensor greedy = processed.argmax(-1);  // temperature-1 rows: argmax of the penalised logits
  if (any_random) {
    std::vector<int64_t> keys(batch);
    std::vector<uint8_t> random(batch);
    for (int64_t i = 0; i < batch; ++i) {
      keys[i] = StreamKey(rows[i].params->seed, rows[i].step);
      random[i] = rows[i].params->temperature > 0 ? 1 : 0;
    }
    at::Tensor noise = ExponentialNoise(HostIds(keys, device), vocab, long_options);
    // exp(logit) / noise, in logs: argmax(logit - log(noise)); filtered tokens stay at -inf.
    at::Tensor drawn = (processed - at::log(noise)).argmax(-1);
    at::Tensor is_random = HostIds(std::vector<int64_t>(random.begin(), random.end()), device).to(at::kBool);
    chosen = at::where(is_random, drawn, greedy);
  } else {
    chosen = greedy;
  }

  int64_t top_n = 0;
  for (const SamplerRow& row : rows) top_n = std::max(top_n, row.params->logprobs);
  std::vector<at::Tensor> to_host = {chosen};
  if (top_n > 0) {
    at::Tensor logprobs = raw.log_softmax(-1);  // [B, V], the model's own distribution
    to_host.push_back(logprobs.gather(1, chosen.unsqueeze(1)).squeeze(1));  // [B]
    auto [top_values, top_ids] = logprobs.topk(std::min(top_n, vocab), -1);    // [B, n]
    to_host.push_back(top_values);
    to_host.push_back(top_ids);
  }
  // One synchronisation: the copies are queued without waiting (into pinned memory on CUDA) and only the
  // last one waits, which, the stream being in order, means that all of them are done.
  for (size_t i = 0; i < to_host.size(); ++i) {
    const bool last = i + 1 == to_host.size();
    to_host[i] = to_host[i].contiguous().to(at::kCPU, /*non_blocking=*/!last);
  }

  std::vector<SampledToken> result(batch);
  const int64_t* ids = to_host[0].data_ptr<int64_t>();
  for (int64_t i = 0; i < batch; ++i) {
    result[i].id = ids[i];
    const int64_t wanted = rows[i].params->logprobs;
    if (wanted <= 0) continue;
    result[i].logprob = to_host[1].data_ptr<float>()[i];
    const int64_t n = std::min(wanted, to_host[2].size(1));
    for (int64_t j = 0; j < n; ++j) {
      result[i].top.emplace_back(to_host[3].data_ptr<int64_t>()[i * to_host[3].size(1) + j],
                                 to_host[2].data_ptr<float>()[i * to_host[2].size(1) + j]);
    }
  }
  return result;
}

}  // namespace torchgen
