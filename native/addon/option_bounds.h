// Generated from lib/option-table.ts by test/unit/option-table.test.ts; do not edit. After a change to the
// table: npx vitest run test/unit/option-table.test.ts -u
// The bounds the addon checks on the options it reads: the same as the TypeScript validation's, so that a
// value the library accepts is never refused below it, and a caller of the addon gets no wider range.
#pragma once

#include <cstdint>

namespace torchgen::option_bounds {

struct IntegerBounds {
  int64_t min;
  int64_t max;
};

// [min, max], or (min, max] when min_exclusive.
struct NumberBounds {
  double min;
  double max;
  bool min_exclusive;
};

inline constexpr IntegerBounds kMaxBatch{1, 1024};
inline constexpr IntegerBounds kMaxQueue{0, 2147483648};
inline constexpr IntegerBounds kPrefillChunk{1, 65536};
inline constexpr IntegerBounds kPrefixCacheMiB{0, 1048576};
inline constexpr IntegerBounds kThreads{1, 1024};
inline constexpr IntegerBounds kMaxTokens{1, 1048576};
inline constexpr NumberBounds kTemperature{0.0, 100.0, false};
inline constexpr IntegerBounds kTopK{0, 2147483647};
inline constexpr NumberBounds kTopP{0.0, 1.0, true};
inline constexpr NumberBounds kMinP{0.0, 1.0, false};
inline constexpr NumberBounds kRepetitionPenalty{0.0, 100.0, true};
inline constexpr NumberBounds kPresencePenalty{-2.0, 2.0, false};
inline constexpr NumberBounds kFrequencyPenalty{-2.0, 2.0, false};
inline constexpr IntegerBounds kSeed{0, 9007199254740991};
inline constexpr IntegerBounds kLogprobs{0, 20};

}  // namespace torchgen::option_bounds
