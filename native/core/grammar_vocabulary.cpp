#include "grammar_vocabulary.h"

#include <fstream>
#include <sstream>

#include "failure.h"
#include "grammar.h"

#ifdef TORCH_GEN_GRAMMAR
#include <llguidance.h>
#endif

namespace torchgen {

#define TORCH_GEN_STRINGIFY_VALUE(x) #x
#define TORCH_GEN_STRINGIFY(x) TORCH_GEN_STRINGIFY_VALUE(x)

#ifdef TORCH_GEN_GRAMMAR

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw TorchGenError(codes::kModelLoad, "cannot read " + path + " (the grammar engine's vocabulary)");
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// The engine's defaults, quiet: library code never writes to the process's streams.
LlgConstraintInit QuietInit(const LlgTokenizer* tokenizer) {
  LlgConstraintInit init;
  llg_constraint_init_set_defaults(&init, tokenizer);
  init.log_stderr_level = 0;
  init.log_buffer_level = 0;
  return init;
}

}  // namespace

std::shared_ptr<const GrammarVocabulary> GrammarVocabulary::Load(const std::string& tokenizer_json, int64_t vocab_size,
                                                                 const std::vector<int64_t>& eos_token_ids) {
  const std::string json = ReadFile(tokenizer_json);
  std::vector<LlgToken> eos;
  for (int64_t id : eos_token_ids) {
    if (id >= 0 && id < vocab_size) eos.push_back(static_cast<LlgToken>(id));
  }
  LlgTokenizerInitV2 init = {};
  init.struct_size = sizeof(init);
  init.vocab_size = static_cast<uint32_t>(vocab_size);
  init.tok_eos = eos.empty() ? UINT32_MAX : eos.front();
  init.tok_eos_extra = eos.size() > 1 ? eos.data() + 1 : nullptr;
  init.tok_eos_extra_count = eos.size() > 1 ? static_cast<uint32_t>(eos.size() - 1) : 0;
  init.tokenizer_json = json.c_str();
  // The tokenizer lives in JavaScript, out of reach of the engine's threads: the engine tokenizes the few
  // strings it must (forced text) greedily over the vocabulary, which the masks do not depend on.
  init.use_approximate_greedy_tokenize_fn = true;
  char error[1024] = {0};
  LlgTokenizer* tokenizer = llg_new_tokenizer_v2(&init, error, sizeof(error));
  if (tokenizer == nullptr) {
    throw TorchGenError(codes::kGrammarUnavailable,
                        "the grammar engine cannot read this model's vocabulary from " + tokenizer_json + ": " + error);
  }
  return std::shared_ptr<const GrammarVocabulary>(new GrammarVocabulary(tokenizer, vocab_size));
}

GrammarVocabulary::~GrammarVocabulary() { llg_free_tokenizer(tokenizer_); }

std::shared_ptr<const Grammar> GrammarVocabulary::Compile(const std::string& kind, const std::string& source) const {
  if (kind != "json_schema" && kind != "regex" && kind != "lark") {
    throw TorchGenError(codes::kInvalidArgument, "unknown kind of constraint '" + kind + "'");
  }
  LlgConstraintInit init = QuietInit(tokenizer_);
  LlgMatcher* matcher = llg_new_matcher(&init, kind.c_str(), source.c_str());
  if (const char* error = llg_matcher_get_error(matcher)) {
    const std::string message = error;
    llg_free_matcher(matcher);
    throw TorchGenError(codes::kInvalidArgument, message);
  }
  // The vocabulary outlives every grammar compiled from it: the grammar holds it.
  return std::make_shared<const Grammar>(shared_from_this(), matcher, kind);
}

std::string GrammarEngineName() { return std::string("llguidance ") + TORCH_GEN_STRINGIFY(TORCH_GEN_GRAMMAR_VERSION); }

#else  // built without the grammar engine

std::shared_ptr<const GrammarVocabulary> GrammarVocabulary::Load(const std::string&, int64_t, const std::vector<int64_t>&) {
  throw TorchGenError(codes::kGrammarUnavailable,
                      "this build of the addon has no grammar engine (constrained decoding): install Rust's toolchain "
                      "(rustup, with cargo on the PATH), then run `npm run build:native`");
}

GrammarVocabulary::~GrammarVocabulary() = default;

std::shared_ptr<const Grammar> GrammarVocabulary::Compile(const std::string&, const std::string&) const {
  throw TorchGenError(codes::kGrammarUnavailable, "this build of the addon has no grammar engine");
}

std::string GrammarEngineName() { return ""; }

#endif

}  // namespace torchgen
