#include "constraint.h"

#include <algorithm>
#include <utility>

#include "grammar_vocabulary.h"

#ifdef TORCH_GEN_GRAMMAR
#include <llguidance.h>
#endif

namespace torchgen {

Constraint::Constraint(std::shared_ptr<const GrammarVocabulary> vocabulary, LlgMatcher* matcher)
    : vocabulary_(std::move(vocabulary)), matcher_(matcher) {}

int64_t Constraint::mask_words() const { return (vocabulary_->vocab_size() + 31) / 32; }

void Constraint::Fail(const char* what) {
  if (!error_.empty()) return;
#ifdef TORCH_GEN_GRAMMAR
  const char* reason = llg_matcher_get_error(matcher_);
  error_ = std::string(what) + ": " + (reason != nullptr ? reason : "the grammar engine failed");
#else
  error_ = what;
#endif
}

#ifdef TORCH_GEN_GRAMMAR

Constraint::~Constraint() { llg_free_matcher(matcher_); }

void Constraint::ComputeMask(uint32_t* words) {
  const auto count = static_cast<size_t>(mask_words());
  if (error_.empty() &&
      llg_matcher_compute_mask_into(matcher_, words, count * sizeof(uint32_t)) == 0) {
    // A mask with no token at all would leave the sampler nothing to draw: the engine allows end-of-sequence
    // whenever the format may end, so an empty one means the state is a dead end.
    if (std::any_of(words, words + count, [](uint32_t word) { return word != 0; })) return;
    error_ = "the grammar engine allows no token here (the format cannot be completed from this point)";
  } else {
    Fail("computing the allowed tokens failed");
  }
  std::fill(words, words + count, 0xFFFFFFFFU);
}

Constraint::Step Constraint::Commit(int64_t token) {
  if (!error_.empty()) return Step::kError;
  if (llg_matcher_consume_token(matcher_, static_cast<uint32_t>(token)) != 0) {
    Fail(("token " + std::to_string(token) + " was refused").c_str());
    return Step::kError;
  }
  return llg_matcher_is_stopped(matcher_) ? Step::kComplete : Step::kContinue;
}

#else  // no Constraint exists without the engine

Constraint::~Constraint() = default;

void Constraint::ComputeMask(uint32_t* words) {
  std::fill(words, words + mask_words(), 0xFFFFFFFFU);
}

Constraint::Step Constraint::Commit(int64_t) { return Step::kError; }

#endif

}  // namespace torchgen
