// One simulated run: the world owns the clock, the network, the nodes and the schedule, and
// steps them in virtual time. run_seed() is a pure function of the seed: nothing here reads a
// clock, starts a thread or iterates an unordered container to make a decision.
//
// Phases: warm-up (no faults: every client registers), then the fault window (workload and
// faults from the plan), then the quiet phase (faults stop, crashed nodes are back) in which
// everything must finish within kLivenessMs of virtual time.
#pragma once

#include <cstdint>
#include <string>

namespace ferry::sim {

inline constexpr int64_t kLivenessMs = 300'000;

struct RunResult {
  uint64_t seed = 0;
  bool ok = true;
  std::string failure;  // the first violation (all of them with verbose)
  uint64_t messages = 0;
  uint64_t uploads = 0;
  uint64_t upload_bytes = 0;
  uint64_t chunks = 0;  // distinct chunks resd reported durable
  uint64_t crashes = 0;
  uint64_t cuts = 0;
  uint64_t partitions = 0;
  int64_t virtual_ms = 0;
  int64_t settle_ms = 0;  // from the end of the faults until everything was done
  uint64_t own_upload_returns = 0;  // chatd handed a sender its own upload (checker.h)
  uint64_t extra_lanes = 0;  // extra resource connections the clients' uploads dialled
  uint64_t trace_hash = 0;
};

RunResult run_seed(uint64_t seed, bool verbose);

}  // namespace ferry::sim
