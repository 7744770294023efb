// A ferry-chaos process for the scenarios: started in front of one server, driven over its
// control interface, stopped by pid with its JSON summary. Plus free loopback ports.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace ferry::scenarios {

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
  test::Process p_;
  int listen_port_ = 0;
  int control_port_ = 0;
  std::string summary_file_, log_, summary_;
};

}  // namespace ferry::scenarios
