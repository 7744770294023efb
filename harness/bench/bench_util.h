// Helpers the ferry-bench modes share: sizes, test files, timing child processes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace ferry::bench {

// Monotonic seconds.
double now_s();
// "1G", "64M", "512K" or plain bytes.
uint64_t parse_size(const std::string& s);
// Writes `size` pseudo-random bytes (incompressible, distinct per block).
bool make_file(const std::string& path, uint64_t size);
// Overwrites the file's first 8 bytes with `round`: the same size, another SHA-256.
bool vary_file(const std::string& path, uint64_t round);

struct Timed {
  int status = -1;
  double seconds = 0;
  long max_rss_kb = 0;
  double cpu_seconds = 0;  // user + system time of the child (wait4)
  std::string out;  // the child's stdout
};
// Runs argv to completion with stdout to `out_path`, timing it and reading its peak RSS
// from wait4().
Timed run_timed(const std::vector<std::string>& argv, const std::string& out_path);

// User + system CPU seconds a running process has used so far (/proc/PID/stat); -1 if it
// cannot be read.
double process_cpu_seconds(pid_t pid);

// Absolute path of a program on PATH (Process::start execs a path, not a name).
std::string find_in_path(const std::string& name);

// ferry-chatd + ferry-resd from this build on loopback, data under `work`, and argv for the
// `ferry` CLI against them (one state dir per name under `work`). For `upload --link` they
// listen on `host` (namespace A's address) with every server argv prefixed by `server_wrap`
// (`ip netns exec A`), and every CLI argv prefixed by `client_wrap` (`ip netns exec B`).
struct BenchServers {
  std::string work;
  std::string host = "127.0.0.1";
  std::vector<std::string> server_wrap, client_wrap;
  test::Process chatd, resd;
  // `http`: also serve downloads (resd --http 127.0.0.1:0). False (with a message on stderr)
  // when either server did not start.
  bool start(const std::string& work_dir, bool http);
  std::vector<std::string> cli(const std::string& state, std::vector<std::string> rest) const;
  void stop();
};

}  // namespace ferry::bench
