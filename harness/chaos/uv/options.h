// ferry-chaos command line: addresses, seed, output switches, and fault settings. Fault flags
// are not listed one by one: `--NAME VALUE`, `--up-NAME VALUE` and `--down-NAME VALUE` for
// every name apply_setting() knows (faults.h), so flags, scenario files and the control
// interface can never disagree.
#pragma once

#include <cstdint>
#include <string>

#include "harness/chaos/core/scenario.h"

namespace ferry::chaos {

struct Options {
  std::string listen_host = "127.0.0.1";
  int listen_port = 0;
  std::string upstream_host;
  int upstream_port = 0;
  bool has_seed = false;
  uint64_t seed = 0;
  std::string scenario_path;
  std::string control;  // HOST:PORT of the control interface, empty: none
  std::string summary_file;  // also write the exit summary here
  std::string log_file;  // fault log here instead of stderr
  bool quiet = false;
  uint32_t max_frame = (64u << 20) + 4096;
  Settings settings;  // fault flags in command-line order (validated by apply_setting)
  bool help = false;
};

bool parse_host_port(const std::string& s, std::string& host, int& port);
// False with a message in `err` on a bad or unknown flag.
bool parse_options(int argc, char** argv, Options& out, std::string& err);
const char* usage_text();

}  // namespace ferry::chaos
