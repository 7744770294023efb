// ferry-link's command line (the text of --help is in options.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/link/core/spec.h"

namespace ferry::link {

enum class WaitFor { kLast, kAll, kAny };

struct Command {
  char side;  // 'a' or 'b'
  std::string text;
};

struct Options {
  bool help = false;
  bool cleanup = false;
  bool print_ready = false;
  uint64_t seed = 0;
  LinkSpec a_to_b, b_to_a;
  std::string addr_a = "198.18.0.1";
  std::string addr_b = "198.18.0.2";
  std::vector<Command> commands;
  WaitFor wait = WaitFor::kLast;
  std::string report_file;
  int stop_grace_ms = 5000;
};

// Parses argv. False with `err` on a bad option.
bool parse_options(int argc, char** argv, Options& out, std::string& err);
const char* usage_text();

}  // namespace ferry::link
