// Test support: start the real ferry binaries as child processes on loopback, read the port
// they announce, and stop them by pid. Every process a test starts is stopped by its pid when
// the owning object goes away, so a failing assertion never leaks a server.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace ferry::test {

// Absolute path of a binary built by this project (ferry-chatd, ferry, ...).
std::string bin_path(const std::string& name);
// Where bin_path looks (default: the build's bin directory). An installed runner points it at
// the directory it runs from.
void set_bin_dir(const std::string& dir);

// A temporary directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A running child process. start() waits until the child prints a line starting with
// `ready_prefix` (e.g. "listening on ") and parses HOST:PORT after it.
class Process {
 public:
  Process() = default;
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // argv[0] is the program path. Returns false (and stops the child) if it exits or does not
  // announce itself within timeout_ms. Output after the ready line goes to `log_path` if set.
  bool start(const std::vector<std::string>& argv, const std::string& ready_prefix = "listening on ",
             int timeout_ms = 30000);
  // Starts without waiting for a ready line; stdout/stderr go to log_path (or /dev/null).
  bool spawn(const std::vector<std::string>& argv, const std::string& log_path = "");
  // The signal the child gets when this process dies (default SIGKILL); set before start or
  // spawn. SIGTERM lets a child clean up after itself (ferry-link removes its namespaces).
  void set_death_signal(int sig) { death_signal_ = sig; }

  pid_t pid() const { return pid_; }
  const std::string& host() const { return host_; }
  int port() const { return port_; }
  std::string address() const { return host_ + ":" + std::to_string(port_); }
  bool running();

  void kill9();  // SIGKILL and reap
  // SIGTERM, wait up to timeout_ms for exit; returns the exit status or -1 (then SIGKILLs).
  int terminate(int timeout_ms = 10000);
  // Waits for exit; returns exit status (or 128+signal), -1 on timeout.
  int wait(int timeout_ms = 60000);

 private:
  pid_t pid_ = -1;
  int death_signal_ = SIGKILL;
  std::string host_;
  int port_ = 0;
  int out_fd_ = -1;
};

// Runs a command to completion; returns exit status and captures stdout (+stderr if merged).
struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
};
RunResult run(const std::vector<std::string>& argv, int timeout_ms = 120000);

}  // namespace ferry::test
