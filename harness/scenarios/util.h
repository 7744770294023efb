// Small helpers shared by the scenario groups.
#pragma once

#include <chrono>
#include <string>

namespace ferry::scenarios {

constexpr uint64_t kMiB = 1 << 20;

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The end of a log, for a failure message.
inline std::string tail(const std::string& text, size_t n = 3000) {
  return text.size() > n ? "..." + text.substr(text.size() - n) : text;
}

}  // namespace ferry::scenarios
