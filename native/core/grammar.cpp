#include "grammar.h"

#include <utility>

#include "constraint.h"
#include "failure.h"
#include "grammar_vocabulary.h"

#ifdef TORCH_GEN_GRAMMAR
#include <llguidance.h>
#endif

namespace torchgen {

Grammar::Grammar(std::shared_ptr<const GrammarVocabulary> vocabulary, LlgMatcher* start, std::string kind)
    : vocabulary_(std::move(vocabulary)), start_(start), kind_(std::move(kind)) {}

#ifdef TORCH_GEN_GRAMMAR

Grammar::~Grammar() { llg_free_matcher(start_); }

std::shared_ptr<Constraint> Grammar::Start() const {
  return std::make_shared<Constraint>(vocabulary_, llg_clone_matcher(start_));
}

#else  // no Grammar exists without the engine (GrammarVocabulary::Load refuses)

Grammar::~Grammar() = default;

std::shared_ptr<Constraint> Grammar::Start() const {
  throw TorchGenError(codes::kGrammarUnavailable, "this build of the addon has no grammar engine");
}

#endif

}  // namespace torchgen
