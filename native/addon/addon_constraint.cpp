#include "addon_constraint.h"

#include <string_view>
#include <utility>

#include "../core/constraint.h"
#include "../core/grammar.h"
#include "../core/grammar_vocabulary.h"
#include "convert.h"

namespace torchgen {
namespace {

// Marks the Externals that hold a compiled constraint (random, fixed: napi_type_tag_object's contract).
constexpr napi_type_tag kGrammarTag = {0x7c1f3a9e52d84b06ULL, 0xb3e6d0a1947c2f58ULL};

using GrammarRef = std::shared_ptr<const Grammar>;

class CompileWorker : public Napi::AsyncWorker {
 public:
  CompileWorker(Napi::Env env, std::shared_ptr<const GrammarVocabulary> vocabulary, std::string kind, std::string source)
      : Napi::AsyncWorker(env, "torch-gen:compile-constraint"),
        vocabulary_(std::move(vocabulary)),
        kind_(std::move(kind)),
        source_(std::move(source)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    constexpr std::string_view kOperation = "compiling the constraint failed";
    failure_ = Guarded(kOperation, codes::kInvalidArgument, [&] { grammar_ = vocabulary_->Compile(kind_, source_); });
    // The engine's own message is what the user needs (lib/constraints.ts words the error around it):
    // without Guarded's "<operation>: " prefix.
    if (failure_ && failure_->code == codes::kInvalidArgument) failure_->message.erase(0, kOperation.size() + 2);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (failure_) {
      deferred_.Reject(MakeError(env, *failure_).Value());
      return;
    }
    auto external = Napi::External<GrammarRef>::New(env, new GrammarRef(std::move(grammar_)),
                                                     [](Napi::Env, GrammarRef* grammar) { delete grammar; });
    external.TypeTag(&kGrammarTag);
    deferred_.Resolve(external);
  }

 private:
  std::shared_ptr<const GrammarVocabulary> vocabulary_;
  std::string kind_;
  std::string source_;
  Napi::Promise::Deferred deferred_;
  GrammarRef grammar_;
  std::optional<Failure> failure_;
};

}  // namespace

Napi::Value CompileConstraint(Napi::Env env, const ModelGrammar& grammar, const Napi::Value& kind,
                              const Napi::Value& source) {
  if (!kind.IsString() || !source.IsString()) {
    throw Napi::TypeError::New(env, "compileConstraint(kind, source) expects two strings");
  }
  if (!grammar.vocabulary) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(MakeError(env, grammar.unavailable).Value());
    return deferred.Promise();
  }
  auto* worker = new CompileWorker(env, grammar.vocabulary, kind.As<Napi::String>().Utf8Value(),
                                   source.As<Napi::String>().Utf8Value());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

std::shared_ptr<Constraint> StartConstraint(Napi::Env env, const Napi::Value& value, const ModelGrammar& grammar) {
  if (!value.IsExternal() || !value.As<Napi::Object>().CheckTypeTag(&kGrammarTag)) {
    throw Napi::TypeError::New(env, "torch-gen native: `constraint` must come from compileConstraint()");
  }
  const GrammarRef& compiled = *value.As<Napi::External<GrammarRef>>().Data();
  if (!grammar.vocabulary || &compiled->vocabulary() != grammar.vocabulary.get()) {
    throw Napi::TypeError::New(env, "torch-gen native: `constraint` was compiled for another model");
  }
  return compiled->Start();
}

}  // namespace torchgen
