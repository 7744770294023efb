#include "harness/scenarios/chaos_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "harness/scenarios/report.h"

namespace ferry::scenarios {

using test::bin_path;

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

bool ChaosProcess::start(const std::string& dir, const std::string& name, int listen_port,
                         int upstream_port, uint64_t seed, const std::vector<std::string>& args) {
  summary_file_ = dir + "/" + name + ".summary.json";
  log_ = dir + "/" + name + ".log";
  std::vector<std::string> argv = {bin_path("ferry-chaos"),
                                   "--listen", "127.0.0.1:" + std::to_string(listen_port),
                                   "--upstream", "127.0.0.1:" + std::to_string(upstream_port),
                                   "--seed", std::to_string(seed),
                                   "--control", "127.0.0.1:0",
                                   "--summary-file", summary_file_,
                                   "--log-file", log_};
  argv.insert(argv.end(), args.begin(), args.end());
  // ferry-chaos prints "control on" after its proxy listens, so that line is the ready signal
  // (Process reads one address); the proxy's own port is therefore chosen here.
  for (int attempt = 0; attempt < 3; attempt++) {
    listen_port_ = listen_port != 0 ? listen_port : free_port();
    argv[2] = "127.0.0.1:" + std::to_string(listen_port_);
    if (p_.start(argv, "control on ")) {
      control_port_ = p_.port();
      return true;
    }
    if (listen_port != 0) break;  // a fixed port: retrying will not help
  }
  return false;
}

std::string ChaosProcess::control(const std::string& command) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(uint16_t(control_port_));
  std::string reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string line = command + "\n";
    if (send(fd, line.data(), line.size(), MSG_NOSIGNAL) == ssize_t(line.size())) {
      char c;
      while (read(fd, &c, 1) == 1 && c != '\n') reply += c;
    }
  }
  close(fd);
  return reply;
}

uint64_t ChaosProcess::stat(const std::string& dir, const std::string& key) {
  std::string r = control("stats");
  if (r.rfind("ok ", 0) != 0) return 0;
  return summary_num(r.substr(3), dir, key);
}

std::string ChaosProcess::stop() {
  if (p_.pid() <= 0) return summary_;
  p_.terminate(10000);
  std::ifstream f(summary_file_);
  std::getline(f, summary_);
  return summary_;
}

}  // namespace ferry::scenarios
