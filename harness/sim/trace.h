// The run's trace: every notable step (connection events, faults, crashes, app events) is
// one line. Lines are folded into a 64-bit FNV-1a hash, which is how the determinism test
// compares two runs of one seed without keeping them; with --verbose they are also printed,
// prefixed with the virtual time, so a failing seed can be read step by step.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace ferry::sim {

class Trace {
 public:
  explicit Trace(bool verbose) : verbose_(verbose) {}

  void line(int64_t now_ms, std::string_view text) {
    fold(reinterpret_cast<const char*>(&now_ms), sizeof now_ms);
    fold(text.data(), text.size());
    fold("\n", 1);
    if (verbose_) {
      std::printf("%9lld.%03lld  %.*s\n", static_cast<long long>(now_ms / 1000),
                  static_cast<long long>(now_ms % 1000), static_cast<int>(text.size()),
                  text.data());
    }
  }
  bool verbose() const { return verbose_; }
  uint64_t hash() const { return hash_; }

 private:
  void fold(const char* p, size_t n) {
    for (size_t i = 0; i < n; i++) {
      hash_ ^= static_cast<uint8_t>(p[i]);
      hash_ *= 0x100000001b3ull;
    }
  }

  bool verbose_;
  uint64_t hash_ = 0xcbf29ce484222325ull;
};

}  // namespace ferry::sim
