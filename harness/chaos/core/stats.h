// Counters of what ferry-chaos did, per direction, summed over connections: the JSON summary
// printed on exit and the control interface's `stats` are made from these.
#pragma once

#include <cstdint>

namespace ferry::chaos {

struct DirStats {
  uint64_t frames = 0;  // whole ferry frames seen
  uint64_t raw_chunks = 0;  // chunks of a non-ferry stream seen
  uint64_t bytes_in = 0;  // read from the sender
  uint64_t bytes_out = 0;  // handed on for delivery (duplicates count twice)
  uint64_t drop = 0;
  uint64_t dup = 0;
  uint64_t reorder = 0;
  uint64_t corrupt = 0;
  uint64_t delayed = 0;  // units given a delay or jitter
  uint64_t rate_limited = 0;  // units the bandwidth cap held back
  uint64_t cut = 0;  // connections this direction's faults cut (bytes, frames or prob)
  uint64_t blackhole = 0;  // connections whose direction went silent
  uint64_t blackholed_bytes = 0;  // bytes swallowed while silent
};

struct Stats {
  DirStats dir[2];
  uint64_t connections = 0;  // accepted and forwarded
  uint64_t refused = 0;  // accepted and reset at once while refusing
  uint64_t cut_now = 0;  // connections cut by `cut_now` (schedule or control)
  uint64_t upstream_failed = 0;  // connections whose upstream connect failed
  uint64_t schedule_steps = 0;  // schedule steps applied
};

}  // namespace ferry::chaos
