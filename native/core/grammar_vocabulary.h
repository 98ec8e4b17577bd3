// A model's vocabulary as the grammar engine (llguidance) sees it: every token's bytes, read once at load
// from the model's tokenizer.json, and the end-of-sequence ids a complete constraint allows. Compiles the
// constraints of the responseFormat option against it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct LlgTokenizer;

namespace torchgen {

class Grammar;

class GrammarVocabulary : public std::enable_shared_from_this<GrammarVocabulary> {
 public:
  // Reads `tokenizer_json` (a Hugging Face tokenizer.json) for a model whose logits have `vocab_size`
  // columns (ids the tokenizer lacks are never allowed). Throws TorchGenError: ERR_GRAMMAR_UNAVAILABLE
  // when the addon was built without the engine or the engine cannot read this tokenizer (the message
  // says which), ERR_MODEL_LOAD when the file cannot be read.
  static std::shared_ptr<const GrammarVocabulary> Load(const std::string& tokenizer_json, int64_t vocab_size,
                                                       const std::vector<int64_t>& eos_token_ids);
  ~GrammarVocabulary();
  GrammarVocabulary(const GrammarVocabulary&) = delete;
  GrammarVocabulary& operator=(const GrammarVocabulary&) = delete;

  // Compiles a constraint: `kind` is "json_schema", "regex" or "lark" (llguidance's names), `source` its
  // text. Bounded work (the engine's lexer and grammar-size limits), seconds at worst: call it off the
  // JavaScript thread. Throws TorchGenError(ERR_INVALID_ARGUMENT) with the engine's message when it cannot.
  std::shared_ptr<const Grammar> Compile(const std::string& kind, const std::string& source) const;

  int64_t vocab_size() const { return vocab_size_; }

 private:
  GrammarVocabulary(LlgTokenizer* tokenizer, int64_t vocab_size) : tokenizer_(tokenizer), vocab_size_(vocab_size) {}

  LlgTokenizer* tokenizer_;  // owned; thread-safe in the engine (shared by every matcher compiled from it)
  int64_t vocab_size_;
};

// The engine built into the addon: "llguidance 1.9.1", or "" without one.
std::string GrammarEngineName();

}  // namespace torchgen
