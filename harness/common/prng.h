// The harness's one seeded random number generator, shared by ferry-chaos and ferry-sim:
// splitmix64 to expand seeds, xoshiro256** (Blackman & Vigna) for the stream. Written out here
// rather than taken from <random> because the sequence and its helpers must be the same on
// every platform and standard library (std's distributions are implementation-defined): a seed
// printed by one run must replay on another machine.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace ferry::harness {

// splitmix64 step: turns any 64-bit state (even 0 or a small counter) into well-mixed output.
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Prng {
 public:
  explicit Prng(uint64_t seed = 0) {
    for (uint64_t& w : s_) w = splitmix64(seed);
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
  // Uniform in [0, 1) with 53 bits.
  double unit() { return double(next() >> 11) * 0x1.0p-53; }
  // Uniform in [lo, hi] (inclusive). The modulo bias is irrelevant at the ranges used.
  uint64_t range(uint64_t lo, uint64_t hi) { return lo + next() % (hi - lo + 1); }
  // True with probability p (0..1), in steps of 1/2^20.
  bool chance(double p) {
    return static_cast<double>(next() >> 44) < p * static_cast<double>(1u << 20);
  }
  template <typename T>
  T pick(std::initializer_list<T> options) {
    return options.begin()[next() % options.size()];
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace ferry::harness
