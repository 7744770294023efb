// Small statistics helpers for ferry-bench: percentiles over recorded samples.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace ferry::bench {

// Returns the p-th percentile (0..100) of `samples` (sorted in place); 0 when empty.
inline double percentile(std::vector<double>& samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  size_t idx = static_cast<size_t>(p / 100.0 * double(samples.size() - 1) + 0.5);
  return samples[std::min(idx, samples.size() - 1)];
}

}  // namespace ferry::bench
