#include "load_worker.h"

#include "../core/backend_settings.h"
#include "../core/engine.h"
#include "../core/grammar_vocabulary.h"
#include "../core/model.h"
#include "../core/openmp_threads.h"
#include "addon_state.h"
#include "convert.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace torchgen {

LoadWorker::LoadWorker(Napi::Env env, ModelSpec spec, std::string tokenizer_json, std::vector<int64_t> eos_token_ids,
                       Napi::Function on_events)
    : Napi::AsyncWorker(env, "torch-gen:load"),
      spec_(std::move(spec)),
      tokenizer_json_(std::move(tokenizer_json)),
      eos_token_ids_(std::move(eos_token_ids)),
      on_events_(Napi::Persistent(on_events)),
      deferred_(Napi::Promise::Deferred::New(env)) {}

void LoadWorker::Execute() {
  failure_ = Guarded("loading the model failed", codes::kModelLoad,
                     [&] {
                       // On a thread of its own: the parallel work of loading (freezing, weight layouts,
                       // the cache's zeroing) leaves no OpenMP team behind to slow the engine's.
                       RunOnOwnThread(kLoadThreadName, static_cast<int>(spec_.threads), [&] {
                         ApplyBackendSettings(ResolveDevice(spec_.device));
                         engine_ = std::make_unique<Engine>(Model::Load(spec_));
                       });
                     });
  if (failure_) return;
  // The vocabulary is handed to the grammar engine once, here. A model loads without it (an addon built
  // without the engine, a tokenizer it cannot read): only constrained requests are refused, saying why.
  auto unavailable = Guarded("constrained decoding is unavailable for this model", codes::kGrammarUnavailable, [&] {
    if (tokenizer_json_.empty()) throw TorchGenError(codes::kGrammarUnavailable, "no tokenizer.json was given");
    grammar_.vocabulary = GrammarVocabulary::Load(tokenizer_json_, spec_.vocab_size, eos_token_ids_);
  });
  if (unavailable) grammar_.unavailable = {codes::kGrammarUnavailable, unavailable->message, false};
#if defined(__GLIBC__)
  // Loading makes transient copies (the module as read, the graph before freezing, weights before their
  // oneDNN layout). Once a model has been disposed, glibc's raised mmap threshold puts such blocks in its
  // arenas, which keep them after they are freed: every later load would hold ~400 MB more (SmolLM2 FP32)
  // than the first. Give them back now.
  malloc_trim(0);
#endif
}

void LoadWorker::OnOK() {
  Napi::Env env = Env();
  if (failure_) {
    deferred_.Reject(MakeError(env, *failure_).Value());
    return;
  }
  try {
    // The constructor takes the engine out of this External; whatever it leaves is freed with engine_.
    auto external = Napi::External<std::unique_ptr<Engine>>::New(env, &engine_);
    auto grammar = Napi::External<ModelGrammar>::New(env, &grammar_);
    Napi::Object handle = GetAddonState(env).model_constructor.New({external, on_events_.Value(), grammar});
    deferred_.Resolve(handle);
  } catch (const Napi::Error& error) {
    deferred_.Reject(error.Value());
  }
}

}  // namespace torchgen
