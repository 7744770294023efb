// Small helpers the server tests share: deterministic incompressible bytes, and the wall clock
// in the unit tickets use (Unix milliseconds), for signing tickets in a test.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace ferry::test {

// `n` bytes of xorshift64 output from `seed`: the same bytes for the same seed, every run.
inline std::string noise_bytes(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x);
  }
  return s;
}

inline int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ferry::test
