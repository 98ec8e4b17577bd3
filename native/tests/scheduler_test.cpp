// The scheduler against a fake executor (fake_executor.h): every request's tokens must equal what its
// prompt alone gives, whatever ran beside it, with prefix caching on or off.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "fake_executor.h"
#include "scheduler.h"

namespace torchgen {
namespace {

using testing::FakeExecutor;
using testing::NextToken;

constexpr int64_t kVocab = 997;
constexpr int64_t kBlock = 16;

struct Options {
  int64_t slots = 4;
  int64_t max_context = 512;
  int64_t prefill_chunk = 64;
  int64_t prefix_blocks = 64;  // 0: prefix caching off
  bool chunked = true;
};

struct Outcome {
  std::vector<int64_t> tokens;
  FinishReason finish = FinishReason::kNone;
  std::string error;
};

// A scheduler over a fake executor, stepped on the test's thread.
class Harness {
 public:
  explicit Harness(Options options = {})
      : spec_(MakeSpec(options)),
        executor_(options.slots, options.max_context, kVocab, options.prefix_blocks, kBlock, options.chunked),
        scheduler_(spec_, executor_, kBlock) {}

  static ModelSpec MakeSpec(const Options& options) {
    ModelSpec spec;
    spec.interface = ModelInterface::kKvCache;
    spec.vocab_size = kVocab;
    spec.max_context = options.max_context;
    spec.max_batch = options.slots;
    spec.max_queue = 1000;
    spec.prefill_chunk = options.prefill_chunk;
    return spec;
  }

  uint64_t Submit(std::vector<int64_t> prompt, int64_t max_tokens = 8, std::vector<int64_t> stops = {},
                  SamplingParams sampling = {}) {
    GenerationRequest request;
    request.id = next_id_++;
    request.prompt = std::move(prompt);
    request.max_tokens = max_tokens;
    request.stop_token_ids = std::move(stops);
    request.sampling = sampling;
    scheduler_.Submit(request);
    outcomes_[request.id];
    return request.id;
  }

  // Runs steps until every submitted request has ended (or `steps` steps, when given).
  void Run(int steps = 100000) {
    const EventSink early = [this](std::vector<TokenEvent>&& events) { Record(events); };
    for (int i = 0; i < steps && !AllDone(); ++i) Record(scheduler_.Step(early));
    if (steps == 100000) {
      ASSERT_TRUE(AllDone()) << "requests still running";
    }
  }

  bool AllDone() const {
    for (const auto& [id, outcome] : outcomes_) {
      if (outcome.finish == FinishReason::kNone) return false;
    }
    return true;
  }

  void Record(const std::vector<TokenEvent>& events) {
    for (const TokenEvent& event : events) {
      Outcome& outcome = outcomes_.at(event.request_id);
      ASSERT_EQ(outcome.finish, FinishReason::kNone) << "an event after the request ended";
      outcome.tokens.insert(outcome.tokens.end(), event.token_ids.begin(), event.token_ids.end());
      outcome.finish = event.finish;
      outcome.error = event.error_message;
    }
  }

  const Outcome& outcome(uint64_t id) const { return outcomes_.at(id); }
  Scheduler& scheduler() { return scheduler_; }
  FakeExecutor& executor() { return executor_; }

 private:
  ModelSpec spec_;
  FakeExecutor executor_;
  Scheduler scheduler_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Outcome> outcomes_;
};

// What greedy decoding of `prompt` gives with the fake's model.
std::vector<int64_t> Reference(const std::vector<int64_t>& prompt, int64_t max_tokens, int64_t max_context = 512,
                               const std::vector<int64_t>& stops = {}) {
  std::vector<int64_t> sequence(prompt);
  std::vector<int64_t> generated;
  while (static_cast<int64_t>(generated.size()) < max_tokens) {
    const int64_t next = NextToken(sequence, kVocab);
    generated.push_back(next);
    sequence.push_back(next);
    if (std::find(stops.begin(), stops.end(), next) != stops.end()) break;
    if (static_cast<int64_t>(sequence.size()) >= max_context) break;
  }
  return generated;
}

std::vector<int64_t> Tokens(int64_t count, int64_t seed) {
  std::mt19937_64 random(static_cast<uint64_t>(seed));
  std::vector<int64_t> tokens(static_cast<size_t>(count));
  for (auto& token : tokens) token = static_cast<int64_t>(random() % kVocab);
  return tokens;
}

std::vector<int64_t> Concat(std::vector<int64_t> a, const std::vector<int64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(Scheduler, OneRequestGivesTheReferenceTokens) {
  Harness harness;
  const auto prompt = Tokens(150, 1);  // three chunks of 64
  const uint64_t id = harness.Submit(prompt, 20);
  harness.Run();
  EXPECT_EQ(harness.outcome(id).finish, FinishReason::kLength);
  EXPECT_EQ(harness.outcome(id).tokens, Reference(prompt, 20));
}

TEST(Scheduler, ManyRequestsBesideEachOtherGiveTheirOwnTokens) {
  for (int64_t prefix_blocks : {0, 64, 5}) {
    Harness harness({.prefix_blocks = prefix_blocks});
    const auto shared = Tokens(70, 2);
    std::vector<std::pair<uint64_t, std::vector<int64_t>>> submitted;
    for (int i = 0; i < 14; ++i) {
      // Some share a long prefix, some are unique; lengths from 1 to 200 tokens, across chunk boundaries.
      std::vector<int64_t> prompt = i % 3 == 0 ? Tokens(1 + (i * 37) % 200, 100 + i) : Concat(shared, Tokens(i * 5, 200 + i));
      const int64_t max_tokens = 1 + (i * 7) % 25;
      submitted.emplace_back(harness.Submit(prompt, max_tokens), prompt);
    }
    harness.Run();
    for (size_t i = 0; i < submitted.size(); ++i) {
      const auto& [id, prompt] = submitted[i];
      EXPECT_EQ(harness.outcome(id).error, "") << "prefix blocks " << prefix_blocks;
      EXPECT_EQ(harness.outcome(id).tokens, Reference(prompt, 1 + (static_cast<int64_t>(i) * 7) % 25))
          << "request " << i << ", prefix blocks " << prefix_blocks;
    }
    const SchedulerStats stats = harness.scheduler().Stats();
    EXPECT_EQ(stats.active, 0);
    EXPECT_EQ(stats.queued, 0);
    EXPECT_EQ(stats.requests_finished, 14);
  }
}

TEST(Scheduler, ARequestStartsFromItsLongestCachedPrefix) {
  Harness harness;
  const auto system = Tokens(100, 3);
  const auto first = Concat(system, Tokens(10, 4));
  const uint64_t a = harness.Submit(first, 5);
  harness.Run();
  const int64_t fed_before = harness.scheduler().Stats().prompt_tokens;
  EXPECT_EQ(fed_before, 110);
  const auto second = Concat(system, Tokens(7, 5));
  const uint64_t b = harness.Submit(second, 5);
  harness.Run();
  EXPECT_EQ(harness.outcome(a).tokens, Reference(first, 5));
  EXPECT_EQ(harness.outcome(b).tokens, Reference(second, 5));
  // 96 of the 100 shared tokens are whole blocks: the second request feeds only the rest.
  const SchedulerStats stats = harness.scheduler().Stats();
  EXPECT_EQ(stats.prompt_tokens - fed_before, 107 - 96);
  EXPECT_EQ(stats.prefix.hits, 1);
  EXPECT_EQ(stats.prefix.hit_tokens, 96);
}

TEST(Scheduler, AnIdenticalPromptStillFeedsItsLastToken) {
  Harness harness;
  const auto prompt = Tokens(64, 6);  // exactly four blocks
  harness.Submit(prompt, 3);
  harness.Run();
  const uint64_t again = harness.Submit(prompt, 3);
  harness.Run();
  EXPECT_EQ(harness.outcome(again).tokens, Reference(prompt, 3));
  EXPECT_EQ(harness.scheduler().Stats().prefix.hit_tokens, 48);  // the last block holds the token to feed
}

TEST(Scheduler, AConversationReusesItsEarlierTurnsIncludingTheReply) {
  Harness harness;
  const auto turn1 = Tokens(40, 7);
  const uint64_t a = harness.Submit(turn1, 30);
  harness.Run();
  // The next turn's prompt: the first prompt, the reply as generated, and a new message.
  const auto turn2 = Concat(Concat(turn1, harness.outcome(a).tokens), Tokens(12, 8));
  const uint64_t b = harness.Submit(turn2, 5);
  harness.Run();
  EXPECT_EQ(harness.outcome(b).tokens, Reference(turn2, 5));
  // The reply's keys and values were computed while decoding (all but its last token): 69 positions, 64 reused.
  EXPECT_EQ(harness.scheduler().Stats().prefix.hit_tokens, 64);
}

TEST(Scheduler, RequestsSharingAPrefixComputeItOnce) {
  Harness harness({.prefill_chunk = 256});
  const auto system = Tokens(64, 9);
  std::vector<std::pair<uint64_t, std::vector<int64_t>>> submitted;
  for (int i = 0; i < 4; ++i) {
    const auto prompt = Concat(system, Tokens(5, 10 + i));
    submitted.emplace_back(harness.Submit(prompt, 4), prompt);
  }
  harness.Run();
  for (const auto& [id, prompt] : submitted) EXPECT_EQ(harness.outcome(id).tokens, Reference(prompt, 4));
  EXPECT_EQ(harness.scheduler().Stats().prompt_tokens, 69 + 3 * 5);
  EXPECT_EQ(harness.scheduler().Stats().prefix.hits, 3);
}

TEST(Scheduler, ShortPromptsAreNotPrefilledBehindALongOne) {
  Harness harness({.max_context = 2048, .prefill_chunk = 256});
  const auto long_prompt = Tokens(1500, 11);
  const uint64_t long_id = harness.Submit(long_prompt, 3);
  std::vector<std::pair<uint64_t, std::vector<int64_t>>> short_ones;
  for (int i = 0; i < 3; ++i) {
    const auto prompt = Tokens(12, 20 + i);
    short_ones.emplace_back(harness.Submit(prompt, 3), prompt);
  }
  harness.Run(1);
  // One forward fed all four rows: the short prompts whole, the long one as far as they go.
  ASSERT_EQ(harness.executor().prefills.size(), 1U);
  EXPECT_EQ(harness.executor().prefills[0].rows, 4);
  for (const auto& [id, prompt] : short_ones) EXPECT_EQ(harness.outcome(id).tokens.size(), 2U);  // prefill + decode
  harness.Run();
  EXPECT_EQ(harness.outcome(long_id).tokens, Reference(long_prompt, 3, 2048));
  for (const auto& [id, prompt] : short_ones) EXPECT_EQ(harness.outcome(id).tokens, Reference(prompt, 3));
  // Alone, the long prompt got the whole budget per step.
  EXPECT_EQ(harness.executor().prefills.at(1).width, 256);
}

TEST(Scheduler, FirstTokensAreHandedOverBeforeTheDecodeForward) {
  Harness harness({.prefill_chunk = 256});
  const auto decoding = Tokens(10, 80);
  harness.Submit(decoding, 20);
  harness.Run(1);
  const auto prompt = Tokens(10, 81);
  const uint64_t id = harness.Submit(prompt, 5);
  std::vector<size_t> decodes_before_first_token;
  const EventSink early = [&](std::vector<TokenEvent>&& events) {
    for (const TokenEvent& event : events) {
      if (event.request_id == id) decodes_before_first_token.push_back(harness.executor().decode_batches.size());
    }
  };
  const size_t decodes = harness.executor().decode_batches.size();
  harness.scheduler().Step(early);
  ASSERT_EQ(decodes_before_first_token.size(), 1U);
  EXPECT_EQ(decodes_before_first_token[0], decodes);  // before this step's decode forward
}

TEST(Scheduler, TheCacheNeverHoldsMoreThanItsBudgetAndEvictedPrefixesAreRecomputed) {
  Harness harness({.prefix_blocks = 6});
  std::vector<std::vector<int64_t>> prompts;
  for (int i = 0; i < 5; ++i) prompts.push_back(Tokens(60, 30 + i));
  for (int round = 0; round < 3; ++round) {
    for (const auto& prompt : prompts) {
      const uint64_t id = harness.Submit(prompt, 2);
      harness.Run();
      EXPECT_EQ(harness.outcome(id).tokens, Reference(prompt, 2));
      EXPECT_LE(harness.scheduler().Stats().prefix.cached_tokens, 6 * kBlock);
    }
  }
  EXPECT_GT(harness.scheduler().Stats().prefix.evictions, 0);
}

TEST(Scheduler, CancelledRequestsEndWithAnAbortAndLeaveTheOthersAlone) {
  Harness harness({.slots = 2, .prefill_chunk = 16});
  const auto keep = Tokens(30, 40);
  const uint64_t kept = harness.Submit(keep, 12);
  const uint64_t decoding = harness.Submit(Tokens(5, 41), 50);
  const uint64_t queued = harness.Submit(Tokens(5, 42), 5);
  harness.Run(3);
  harness.scheduler().Cancel(decoding);
  harness.scheduler().Cancel(queued);
  harness.scheduler().Cancel(12345);  // unknown: ignored
  harness.Run();
  EXPECT_EQ(harness.outcome(decoding).finish, FinishReason::kAbort);
  EXPECT_EQ(harness.outcome(queued).finish, FinishReason::kAbort);
  EXPECT_TRUE(harness.outcome(queued).tokens.empty());
  EXPECT_EQ(harness.outcome(kept).tokens, Reference(keep, 12));
}

TEST(Scheduler, APromptThatFailsEndsOnlyItsOwnRequest) {
  Harness harness;
  const int64_t poison = 5;
  harness.executor().poison = poison;
  auto bad = Tokens(20, 50);
  bad[7] = poison;
  std::vector<std::pair<uint64_t, std::vector<int64_t>>> good;
  for (int i = 0; i < 2; ++i) {
    auto prompt = Tokens(20, 51 + i);
    std::replace(prompt.begin(), prompt.end(), poison, poison + 1);
    good.emplace_back(harness.Submit(prompt, 6), prompt);
  }
  const uint64_t failing = harness.Submit(bad, 6);
  harness.Run();
  EXPECT_EQ(harness.outcome(failing).finish, FinishReason::kError);
  EXPECT_NE(harness.outcome(failing).error.find("poisoned token"), std::string::npos);
  for (const auto& [id, prompt] : good) {
    // Their generated tokens may hit the poison too; compare only while they do not.
    const auto reference = Reference(prompt, 6);
    if (std::find(reference.begin(), reference.end(), poison) != reference.end()) continue;
    EXPECT_EQ(harness.outcome(id).tokens, reference);
  }
  EXPECT_EQ(harness.scheduler().Stats().active, 0);
}

TEST(Scheduler, FinishRulesStopTokensMaxTokensAndTheContext) {
  Harness harness({.max_context = 64});
  const auto prompt = Tokens(10, 60);
  const auto reference = Reference(prompt, 20);
  const uint64_t stopped = harness.Submit(prompt, 20, {reference[3]});
  const uint64_t capped = harness.Submit(Tokens(60, 61), 100);
  harness.Run();
  EXPECT_EQ(harness.outcome(stopped).finish, FinishReason::kStop);
  EXPECT_EQ(harness.outcome(stopped).tokens, Reference(prompt, 20, 512, {reference[3]}));
  EXPECT_EQ(harness.outcome(capped).finish, FinishReason::kLength);
  EXPECT_EQ(harness.outcome(capped).tokens.size(), 4U);  // 60 + 4 = the context
}

TEST(Scheduler, StepsOfGreedyRowsOnlyTakeTheArgmaxPath) {
  Harness harness({.slots = 3});
  std::vector<std::pair<uint64_t, std::vector<int64_t>>> requests;
  for (int i = 0; i < 5; ++i) {
    auto prompt = Tokens(8 + i, 80 + i);
    requests.emplace_back(harness.Submit(prompt, 6 + i), prompt);
  }
  harness.Run();
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(harness.outcome(requests[i].first).tokens, Reference(requests[i].second, 6 + static_cast<int64_t>(i)));
  }
  EXPECT_FALSE(harness.executor().greedy_batches.empty());
  EXPECT_EQ(harness.executor().greedy_batches, harness.executor().decode_batches);
}

TEST(Scheduler, ARowThatSamplesPenalisesOrReportsLogprobsSendsItsStepsThroughTheSampler) {
  for (const SamplingParams& other : {SamplingParams{.logprobs = 2}, SamplingParams{.repetition_penalty = 1.5},
                                      SamplingParams{.temperature = 0.7, .seed = 3}}) {
    Harness harness({.slots = 3});
    const auto greedy_prompt = Tokens(10, 90);
    const uint64_t greedy = harness.Submit(greedy_prompt, 12);
    const uint64_t sampled = harness.Submit(Tokens(9, 91), 4, {}, other);
    harness.Run();
    // The greedy request's tokens do not depend on the path its steps took.
    EXPECT_EQ(harness.outcome(greedy).tokens, Reference(greedy_prompt, 12));
    EXPECT_EQ(harness.outcome(sampled).tokens.size(), 4U);
    // 11 decode steps: the 3 beside the other row go through Decode and the sampler, the 8 after it ended
    // through DecodeGreedy.
    const auto& executor = harness.executor();
    EXPECT_EQ(executor.decode_batches, (std::vector<int64_t>{2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1}));
    EXPECT_EQ(executor.greedy_batches, (std::vector<int64_t>(8, 1)));
  }
}

TEST(Scheduler, AGreedyStepThatFailsRetriesItsRowsAloneOnTheArgmaxPath) {
  Harness harness;
  const auto good_prompt = Tokens(12, 95);
  const auto bad_prompt = Tokens(12, 96);
  // The bad request's first token (from its prefill) makes its first decode step throw.
  const int64_t poison = Reference(bad_prompt, 1)[0];
  const auto reference = Reference(good_prompt, 6);
  for (const auto* tokens : {&good_prompt, &bad_prompt, &reference}) {
    ASSERT_EQ(std::find(tokens->begin(), tokens->end(), poison), tokens->end()) << "pick other seeds";
  }
  harness.executor().poison = poison;
  const uint64_t good = harness.Submit(good_prompt, 6);
  const uint64_t bad = harness.Submit(bad_prompt, 6);
  harness.Run();
  EXPECT_EQ(harness.outcome(good).tokens, reference);
  EXPECT_EQ(harness.outcome(bad).finish, FinishReason::kError);
  EXPECT_EQ(harness.outcome(bad).tokens, (std::vector<int64_t>{poison}));
  // The batch of two failed (it counts in greedy_batches before Decode throws), then each row alone.
  EXPECT_EQ(harness.executor().greedy_batches, (std::vector<int64_t>{2, 1, 1, 1, 1, 1, 1}));
}

TEST(Scheduler, AnExecutorWithoutChunksGetsWholePrompts) {
  Harness harness({.slots = 1, .prefill_chunk = 8, .prefix_blocks = 0, .chunked = false});
  const auto prompt = Tokens(100, 70);
  const uint64_t id = harness.Submit(prompt, 4);
  harness.Run();
  EXPECT_EQ(harness.outcome(id).tokens, Reference(prompt, 4));
  ASSERT_EQ(harness.executor().prefills.size(), 1U);
  EXPECT_EQ(harness.executor().prefills[0].real_tokens, 100);
}

TEST(Scheduler, SubmitRefusesWhatCannotRun) {
  Harness harness({.slots = 1, .max_context = 32});
  auto code_of = [&](std::vector<int64_t> prompt) {
    try {
      harness.Submit(std::move(prompt));
    } catch (const TorchGenError& error) {
      return error.code();
    }
    return std::string("accepted");
  };
  EXPECT_EQ(code_of({}), codes::kInvalidArgument);
  EXPECT_EQ(code_of({kVocab}), codes::kInvalidArgument);
  EXPECT_EQ(code_of({-1}), codes::kInvalidArgument);
  EXPECT_EQ(code_of(Tokens(32, 1)), codes::kContextLength);
  harness.scheduler().Stop();
  EXPECT_EQ(code_of({1}), codes::kDisposed);
}

}  // namespace
}  // namespace torchgen
