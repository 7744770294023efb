#include "sdk/core/backoff.h"

#include <cassert>

namespace ferry::sdk {

Backoff::Backoff(uint32_t min_ms, uint32_t max_ms, RandomSource random)
    : min_ms_(min_ms), max_ms_(max_ms), random_(std::move(random)) {
  assert(min_ms_ > 0 && min_ms_ <= max_ms_);
}

uint64_t Backoff::base_delay_ms() const {
  uint64_t d = min_ms_;
  // 32 doublings overflow nothing in 64 bits and exceed any 32-bit cap.
  for (uint32_t i = 0; i < attempt_ && i < 32 && d < max_ms_; i++) d *= 2;
  return d < max_ms_ ? d : max_ms_;
}

uint64_t Backoff::next_delay_ms() {
  uint64_t base = base_delay_ms();
  if (attempt_ < 64) attempt_++;
  // Jitter factor in [0.75, 1.25]: base * (750 + r % 501) / 1000, in integers so the bounds
  // are exact and testable.
  uint64_t permille = 750 + (random_() % 501u);
  uint64_t d = base * permille / 1000;
  return d > 0 ? d : 1;
}

}  // namespace ferry::sdk
