// Compiled constraints (the responseFormat option) as JavaScript values: an External holding the Grammar,
// type-tagged so that no other value (another External, a forged object) passes for one, and the worker
// that compiles them off the JavaScript thread.
#pragma once

#include <napi.h>

#include <memory>
#include <optional>
#include <string>

#include "../core/failure.h"

namespace torchgen {

class Constraint;
class Grammar;
class GrammarVocabulary;

// What a model has for constrained decoding: its vocabulary in the grammar engine, or why it has none.
struct ModelGrammar {
  std::shared_ptr<const GrammarVocabulary> vocabulary;
  Failure unavailable;  // set when vocabulary is null
};

// compileConstraint(kind, source) of a model -> Promise<External>. Rejects with the failure's code:
// ERR_INVALID_ARGUMENT with the engine's message, ERR_GRAMMAR_UNAVAILABLE when the model has no vocabulary.
Napi::Value CompileConstraint(Napi::Env env, const ModelGrammar& grammar, const Napi::Value& kind,
                              const Napi::Value& source);

// A request's own constraint, started from the compiled one in `value` (the request's `constraint` field).
// Throws a TypeError when `value` is not one, or was compiled for another model.
std::shared_ptr<Constraint> StartConstraint(Napi::Env env, const Napi::Value& value, const ModelGrammar& grammar);

}  // namespace torchgen
