// The simulator's one source of randomness: xoshiro256** seeded through splitmix64. Every
// decision of a run (workload, latencies, faults, crash points) draws from one instance, so a
// run is a pure function of its seed. std::mt19937 would do too, but its distributions are
// implementation-defined; these helpers are not, so a seed replays the same on any libstdc++.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace ferry::sim {

class Prng {
 public:
  explicit Prng(uint64_t seed) {
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
  // Uniform in [lo, hi] (inclusive). The modulo bias is irrelevant at these ranges.
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
  static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  uint64_t s_[4];
};

}  // namespace ferry::sim
