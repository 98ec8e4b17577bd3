// A compiled constraint: the grammar engine's matcher in its start state, kept (and cached by
// lib/constraints.ts) so that every request using the same format starts from a clone instead of a compile.
#pragma once

#include <memory>
#include <string>

struct LlgMatcher;

namespace torchgen {

class Constraint;
class GrammarVocabulary;

class Grammar {
 public:
  // Takes ownership of `start`, a matcher without error; `vocabulary` outlives it through the pointer.
  Grammar(std::shared_ptr<const GrammarVocabulary> vocabulary, LlgMatcher* start, std::string kind);
  ~Grammar();
  Grammar(const Grammar&) = delete;
  Grammar& operator=(const Grammar&) = delete;

  // A request's own matcher, in the start state. Cheap (a clone); any thread.
  std::shared_ptr<Constraint> Start() const;

  const GrammarVocabulary& vocabulary() const { return *vocabulary_; }
  const std::string& kind() const { return kind_; }

 private:
  std::shared_ptr<const GrammarVocabulary> vocabulary_;
  LlgMatcher* start_;  // owned; only cloned, never advanced
  std::string kind_;
};

}  // namespace torchgen
