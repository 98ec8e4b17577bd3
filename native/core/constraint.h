// One constrained request's state in the grammar engine: which tokens may come next (a bitmask over the
// vocabulary) and the tokens sampled so far. The engine thread commits tokens; ConstraintMasks computes
// the masks, on its worker thread while the engine thread runs the forward pass, never both at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

struct LlgMatcher;

namespace torchgen {

class GrammarVocabulary;

class Constraint {
 public:
  // What committing a token did.
  enum class Step { kContinue, kComplete, kError };

  // Takes ownership of `matcher`; `vocabulary` is the one it was compiled against.
  Constraint(std::shared_ptr<const GrammarVocabulary> vocabulary, LlgMatcher* matcher);
  ~Constraint();
  Constraint(const Constraint&) = delete;
  Constraint& operator=(const Constraint&) = delete;

  // 32-bit words of the bitmask: bit (id % 32) of word (id / 32) is set when token `id` is allowed.
  int64_t mask_words() const;
  // Writes the allowed tokens into `words` (mask_words() of them). On an engine failure (its limits, an
  // internal error) the constraint fails: every token is allowed, so that the step goes on for the batch,
  // and the next Commit() reports the failure.
  void ComputeMask(uint32_t* words);
  // Advances by the sampled token: kComplete when the format is complete (nothing but end-of-sequence may
  // follow), kError when the engine refuses it or failed before (error() says why).
  Step Commit(int64_t token);
  const std::string& error() const { return error_; }

 private:
  void Fail(const char* what);

  std::shared_ptr<const GrammarVocabulary> vocabulary_;
  LlgMatcher* matcher_;  // owned
  std::string error_;
};

}  // namespace torchgen
