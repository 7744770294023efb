// Seeded pseudo-random numbers for ferry-chaos: splitmix64 to expand seeds, xoshiro256** for
// the streams. Written out here (not <random>) because the sequence must be identical on every
// platform and standard library: a seed printed by one run must replay on another machine.
#pragma once

#include <cstdint>

namespace ferry::chaos {

// splitmix64 step: turns any 64-bit state (even 0 or a small counter) into well-mixed output.
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// xoshiro256** (Blackman & Vigna): fast, 256-bit state, good statistical quality.
class Prng {
 public:
  explicit Prng(uint64_t seed = 0) {
    uint64_t sm = seed;
    for (uint64_t& w : s_) w = splitmix64(sm);
  }
  uint64_t next() {
    uint64_t result = rotl(s_[1] * 5, 7) * 9;
    uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1) with 53 bits: compared against a fault's probability.
  double unit() { return double(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// The seed of connection `ordinal` (0, 1, 2, ... in accept order) under the run's seed.
inline uint64_t connection_seed(uint64_t run_seed, uint64_t ordinal) {
  uint64_t sm = run_seed ^ (ordinal * 0xD1B54A32D192ED03ull);
  return splitmix64(sm);
}

}  // namespace ferry::chaos
