// One run's workload and fault schedule, drawn from the seed before the run starts, so the
// plan itself is part of what a seed replays. Two or three users, sometimes with a second
// device for user 0; texts go from random devices to random other users; uploads are random
// files (empty, one byte, exactly one chunk, a chunk plus or minus one, random sizes up to
// a few MiB, rarely up to 8 MiB). Faults are only scheduled inside [fault_start, fault_end);
// after fault_end the network is clean, the disk stops failing and every node that is down
// comes back, which is when the liveness clock starts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/sim/net.h"
#include "harness/sim/prng.h"
#include "harness/sim/sources.h"

namespace ferry::sim {

inline constexpr NodeId kChatNode = 0;
inline constexpr NodeId kResdNode = 1;
inline constexpr NodeId kFirstClient = 2;

struct TextPlan {
  int64_t at = 0;  // when the app submits it
  int from = 0;    // the sending client (device) index
  int to = 0;      // the receiving user index
  std::string cid;
  std::string text;
};

struct UploadPlan {
  int64_t at = 0;
  int from = 0;
  int to = 0;
  std::string cid;
  std::string sha256;  // hex; the bytes are in Sources
  uint64_t size = 0;
};

struct FaultPlan {
  enum class Kind { Cut, Partition, Isolate, Crash };
  Kind kind = Kind::Cut;
  int64_t at = 0;
  int64_t duration_ms = 0;  // Partition/Isolate: how long; Crash: downtime
  NodeId a = 0, b = 0;      // Partition: the pair; Isolate, Crash: a
  bool silent = false;      // Crash: host crash (peers get no RST)
  uint64_t pick = 0;        // Cut: which live link (modulo their count)
};

struct Workload {
  int users = 2;
  int clients = 2;           // devices: one per user, sometimes a second one for user 0
  std::vector<int> user_of;  // client index -> user index
  NetConfig net;
  int64_t fault_start = 0;  // relative to the start of the run
  int64_t fault_end = 0;
  double disk_error_rate = 0;  // resd's jobs fail at this rate during the fault window
  std::vector<TextPlan> texts;
  std::vector<UploadPlan> uploads;
  std::vector<FaultPlan> faults;  // ascending `at`
};

// Draws the whole plan; file contents go into `sources`.
Workload make_workload(Prng& rng, Sources& sources, int64_t start_ms);

}  // namespace ferry::sim
