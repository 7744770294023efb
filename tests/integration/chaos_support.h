// Support for chaos_scenarios_test.cpp: a ferry-chaos process (started, driven over its control
// interface, stopped by pid with its JSON summary), free loopback ports, the Jepsen-style
// message check, and the one-line + JSON report every scenario writes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace ferry::test {

// A port on 127.0.0.1 that was free a moment ago (bound to 0, read back, closed). Needed when a
// server must advertise the proxy's address before the proxy starts.
int free_port();

class ChaosProcess {
 public:
  // Starts ferry-chaos on 127.0.0.1:listen_port (0: any) in front of 127.0.0.1:upstream_port,
  // with a control interface; faults in `args` (e.g. {"--up-drop", "0.1"}). Logs to dir/log.
  bool start(const std::string& dir, const std::string& name, int listen_port, int upstream_port,
             uint64_t seed, const std::vector<std::string>& args);
  int port() const { return listen_port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(listen_port_); }
  // One control command; returns the reply line ("ok", "ok {...}", "error ...").
  std::string control(const std::string& command);
  // A counter from the live summary: control("stats"), e.g. stat("up", "drop").
  uint64_t stat(const std::string& dir, const std::string& key);
  // SIGTERM; returns the summary JSON it printed (also kept in summary()).
  std::string stop();
  const std::string& summary() const { return summary_; }
  const std::string& log_path() const { return log_; }

 private:
  Process p_;
  int listen_port_ = 0;
  int control_port_ = 0;
  std::string summary_file_, log_, summary_;
};

// A number inside a summary JSON: top-level key, or dir ("up"/"down") + key.
uint64_t summary_num(const std::string& summary, const std::string& dir, const std::string& key);

// Jepsen-style check of one sender → receiver conversation: every message the sender saw
// acknowledged must be present exactly once; nothing present may be unknown.
struct MessageCheck {
  std::vector<std::string> attempted;  // every text the sender tried (acked or not)
  std::vector<std::string> acked;  // the ones whose `ferry send` exited 0
  uint64_t lost = 0, duplicated = 0, unexpected = 0;
  // `received`: texts as the receiver saw them (may repeat).
  void evaluate(const std::vector<std::string>& received);
};

struct ScenarioReport {
  std::string name;
  uint64_t seed = 0;
  uint64_t file_size = 0;
  uint64_t bytes_sent = 0;  // client → server bytes the proxy read
  uint64_t bytes_resent = 0;  // bytes_sent beyond the file size (upload scenarios)
  uint64_t resumes = 0;  // connections to the proxied server beyond the first
  double seconds = 0;
  std::string hash_check = "n/a";  // "ok", "MISMATCH", "n/a"
  uint64_t messages = 0, acked = 0, lost = 0, duplicated = 0, unexpected = 0;
  std::string chaos_summary;  // the proxy's exit summary
  // Prints one line and writes <name>-seed<N>.json to $FERRY_REPORT_DIR or `dir`.
  void emit(const std::string& dir) const;
};

}  // namespace ferry::test
