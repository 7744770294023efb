// Reconnect delays: exponential growth from a minimum to a cap, with +-25% jitter so that many
// clients cut off at once (server restart) do not reconnect in lockstep. The random source is
// injected so tests are deterministic.
#pragma once

#include <cstdint>
#include <functional>

namespace ferry::sdk {

// Returns uniformly distributed 32-bit values.
using RandomSource = std::function<uint32_t()>;

class Backoff {
 public:
  Backoff(uint32_t min_ms, uint32_t max_ms, RandomSource random);

  // The delay before the next attempt; each call doubles the base (up to the cap).
  uint64_t next_delay_ms();
  // Called once a connection got far enough to count as working (server HELLO received).
  void reset() { attempt_ = 0; }
  uint32_t attempt() const { return attempt_; }
  // The un-jittered delay for the current attempt (exposed for tests).
  uint64_t base_delay_ms() const;

 private:
  uint32_t min_ms_;
  uint32_t max_ms_;
  uint32_t attempt_ = 0;
  RandomSource random_;
};

}  // namespace ferry::sdk
