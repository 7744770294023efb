// ferry-chaos's random numbers: the harness generator (harness/common/prng.h), one stream per
// connection direction, seeded from the run's seed and the connection's ordinal.
#pragma once

#include <cstdint>

#include "harness/common/prng.h"

namespace ferry::chaos {

using harness::Prng;
using harness::splitmix64;

// The seed of connection `ordinal` (0, 1, 2, ... in accept order) under the run's seed.
inline uint64_t connection_seed(uint64_t run_seed, uint64_t ordinal) {
  uint64_t sm = run_seed ^ (ordinal * 0xD1B54A32D192ED03ull);
  return splitmix64(sm);
}

}  // namespace ferry::chaos
