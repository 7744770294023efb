// ferry-bench: one binary, one mode per workload. Each mode prints a table for people, or one
// JSON object with every figure when --json is given.
#pragma once

#include <string>
#include <vector>

namespace ferry::bench {

// Common options parsed from argv after the mode name.
struct Args {
  std::vector<std::string> rest;
  bool json = false;
  // Returns the value after `flag` (and removes both) or `def`.
  std::string take(const std::string& flag, const std::string& def);
  bool take_flag(const std::string& flag);
};

int run_msgs(Args& args);
int run_upload(Args& args);
int run_download(Args& args);

}  // namespace ferry::bench
