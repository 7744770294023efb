// The simulator's one source of randomness: the harness generator (harness/common/prng.h).
// Every decision of a run (workload, latencies, faults, crash points) draws from one instance,
// so a run is a pure function of its seed.
#pragma once

#include "harness/common/prng.h"

namespace ferry::sim {

using harness::Prng;

}  // namespace ferry::sim
