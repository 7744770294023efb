// Namespace and TUN set-up for ferry-link (see netns.h). Everything here runs before the
// event loop starts or after it ends, on the main thread, so the setns() round trips cannot
// race with anything else in the process.
#include "harness/link/uv/netns.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

extern char** environ;

namespace ferry::link {
namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Opens the TUN device while this thread sits in the namespace `ns_fd`, so the device is
// created there; then returns to the namespace we came from.
bool open_tun_in(int ns_fd, int& tun_fd, std::string& err) {
  int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) return err = errno_text("open /proc/self/ns/net"), false;
  if (setns(ns_fd, CLONE_NEWNET) != 0) {
    err = errno_text("setns");
    close(home);
    return false;
  }
  bool ok = false;
  tun_fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (tun_fd < 0) {
    err = errno_text("open /dev/net/tun");
  } else {
    struct ifreq ifr;
    std::memset(&ifr, 0, sizeof ifr);
    // With a vnet header in front of every packet the kernel may hand over TCP super-packets
    // (TSO) and take them back (see harness/link/core/tcp_segments.h).
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
    std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", kTunName);
    if (ioctl(tun_fd, TUNSETIFF, &ifr) != 0) {
      err = errno_text("TUNSETIFF");
    } else if (ioctl(tun_fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) != 0) {
      err = errno_text("TUNSETOFFLOAD");
    } else {
      ok = true;
      // /proc/sys/net resolves to the namespace of the thread that opens it. Best effort: a
      // kernel without IPv6 has no such file, and then there is nothing to silence.
      std::string path = std::string("/proc/sys/net/ipv6/conf/") + kTunName + "/disable_ipv6";
      int f = open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (f >= 0) {
        if (write(f, "1", 1) != 1) { /* best effort, see above */
        }
        close(f);
      }
    }
  }
  // Going home must not fail silently: every later socket and child would be in the wrong
  // namespace.
  if (setns(home, CLONE_NEWNET) != 0) {
    std::perror("ferry-link: setns back to the original namespace");
    std::abort();
  }
  close(home);
  return ok;
}

bool setup_side(NetnsSide& side, const std::string& peer, std::string& err) {
  if (!run_ip({"netns", "add", side.name}))
    return err = "ip netns add " + side.name + " failed", false;
  side.created = true;
  std::string path = "/run/netns/" + side.name;
  side.ns_fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (side.ns_fd < 0) return err = errno_text("open " + path), false;
  if (!open_tun_in(side.ns_fd, side.tun_fd, err)) return err = side.name + ": " + err, false;
  const std::string& ns = side.name;
  if (!run_ip({"-n", ns, "link", "set", "dev", "lo", "up"}) ||
      !run_ip(
          {"-n", ns, "link", "set", "dev", kTunName, "mtu", "1500", "txqueuelen", "1000", "up"}) ||
      !run_ip({"-n", ns, "addr", "add", side.addr + "/32", "peer", peer + "/32", "dev", kTunName}))
    return err = "configuring " + ns + " with ip failed", false;
  return true;
}

void teardown_side(NetnsSide& side) {
  if (side.tun_fd >= 0) close(side.tun_fd);
  if (side.ns_fd >= 0) close(side.ns_fd);
  side.tun_fd = side.ns_fd = -1;
  if (side.created && !run_ip({"netns", "delete", side.name}))
    std::fprintf(stderr, "ferry-link: could not delete namespace %s\n", side.name.c_str());
  side.created = false;
}

}  // namespace

bool run_ip(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::string prog = "ip";
  argv.push_back(prog.data());
  std::vector<std::string> copy = args;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawnp(&pid, "ip", nullptr, nullptr, argv.data(), environ) != 0) return false;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return false;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool is_benchmark_address(const std::string& ip) {
  struct in_addr a;
  if (inet_pton(AF_INET, ip.c_str(), &a) != 1) return false;
  return (ntohl(a.s_addr) & 0xFFFE0000u) == 0xC6120000u;  // 198.18.0.0/15
}

bool LinkNamespaces::setup(const std::string& addr_a, const std::string& addr_b, std::string& err) {
  if (!is_benchmark_address(addr_a) || !is_benchmark_address(addr_b))
    return err = "addresses must be IPv4 inside 198.18.0.0/15", false;
  if (addr_a == addr_b) return err = "the two sides need different addresses", false;
  std::string base = std::string(kNetnsPrefix) + std::to_string(getpid());
  a.name = base + "-a";
  b.name = base + "-b";
  a.addr = addr_a;
  b.addr = addr_b;
  return setup_side(a, addr_b, err) && setup_side(b, addr_a, err);
}

void LinkNamespaces::teardown() {
  teardown_side(a);
  teardown_side(b);
}

std::vector<std::string> sweep_stale_namespaces() {
  std::vector<std::string> removed;
  DIR* d = opendir("/run/netns");
  if (!d) return removed;
  std::vector<std::string> stale;
  const std::string prefix = kNetnsPrefix;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind(prefix, 0) != 0) continue;
    // kNetnsPrefix <digits> -a|-b, nothing else.
    std::string rest = name.substr(prefix.size());
    size_t dash = rest.find('-');
    if (dash == 0 || dash == std::string::npos) continue;
    std::string digits = rest.substr(0, dash), side = rest.substr(dash);
    if (side != "-a" && side != "-b") continue;
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) continue;
    pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid == getpid()) continue;
    if (kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    stale.push_back(name);
  }
  closedir(d);
  for (const std::string& name : stale) {
    if (run_ip({"netns", "delete", name})) removed.push_back(name);
  }
  return removed;
}

}  // namespace ferry::link
