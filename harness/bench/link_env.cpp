// ferry-bench upload --link: the ferry-link process and its two namespaces (see link_env.h).
#include "harness/bench/link_env.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "harness/bench/bench_util.h"
#include "tests/support/cli_user.h"

namespace ferry::bench {

using test::read_text;

std::string ip_path() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
    if (access(p, X_OK) == 0) return p;
  return "";
}

std::string link_unavailable_reason() {
  if (geteuid() != 0) return "ferry-link needs root (network namespaces and TUN)";
  if (access("/dev/net/tun", R_OK | W_OK) != 0) return "no usable /dev/net/tun";
  if (ip_path().empty()) return "iproute2's ip is not installed";
  if (access(test::bin_path("ferry-link").c_str(), X_OK) != 0)
    return "no " + test::bin_path("ferry-link") + " (build the ferry-link target)";
  return "";
}

bool LinkEnv::start(const std::string& spec, uint64_t seed, const std::string& work) {
  log_ = work + "/link.log";
  report_ = work + "/link.json";
  std::vector<std::string> argv = {test::bin_path("ferry-link"), "--print-ready",
                                   "--seed",  std::to_string(seed),
                                   "--link",  spec,
                                   "--report-file", report_};
  // If ferry-bench dies, SIGTERM (not SIGKILL): ferry-link then still deletes the namespaces.
  link_.set_death_signal(SIGTERM);
  if (!link_.spawn(argv, log_)) return false;
  double deadline = now_s() + 30;
  while (now_s() < deadline) {
    std::string t = read_text(log_);
    size_t at = t.find("ready a=");
    if (at != std::string::npos && t.find('\n', at) != std::string::npos) {
      char a[64], ia[32], b[64], ib[32];
      if (std::sscanf(t.c_str() + at, "ready a=%63s %31s b=%63s %31s", a, ia, b, ib) == 4) {
        ns_a = a, addr_a = ia, ns_b = b, addr_b = ib;
        return true;
      }
    }
    if (!link_.running()) break;
    usleep(20000);
  }
  fprintf(stderr, "ferry-bench: ferry-link did not get ready:\n%s", read_text(log_).c_str());
  stop();
  return false;
}

static const char kCcPath[] = "/proc/sys/net/ipv4/tcp_congestion_control";

bool LinkEnv::set_congestion_control(const std::string& name) {
  for (const std::string& ns : {ns_a, ns_b}) {
    test::RunResult r = test::run({ip_path(), "netns", "exec", ns, "/bin/sh", "-c",
                                   std::string("printf %s \"$1\" > ") + kCcPath, "sh", name});
    if (r.status != 0) {
      fprintf(stderr,
              "ferry-bench: cannot set TCP congestion control '%s' in %s (%s); inside a "
              "namespace only net.ipv4.tcp_allowed_congestion_control works\n",
              name.c_str(), ns.c_str(), r.err.c_str());
      return false;
    }
  }
  return true;
}

std::string LinkEnv::congestion_control() const {
  std::string v = test::run({ip_path(), "netns", "exec", ns_b, "/bin/cat", kCcPath}).out;
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

std::vector<std::string> LinkEnv::wrap_a() const { return {ip_path(), "netns", "exec", ns_a}; }
std::vector<std::string> LinkEnv::wrap_b() const { return {ip_path(), "netns", "exec", ns_b}; }

std::string LinkEnv::stop() {
  if (link_.pid() > 0) {
    if (link_.terminate(30000) < 0)
      fprintf(stderr, "ferry-bench: ferry-link ignored SIGTERM; it was killed\n");
    // Belt and braces: nothing may be left behind. The sweep only removes namespaces of dead
    // pids, and ours is dead now.
    if (!ns_a.empty()) {
      std::string list = test::run({ip_path(), "netns", "list"}).out;
      if (list.find(ns_a) != std::string::npos || list.find(ns_b) != std::string::npos) {
        test::run({test::bin_path("ferry-link"), "--cleanup"});
        test::run({ip_path(), "netns", "delete", ns_a});
        test::run({ip_path(), "netns", "delete", ns_b});
      }
    }
  }
  return report_.empty() ? "" : read_text(report_);
}

}  // namespace ferry::bench
