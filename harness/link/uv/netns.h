// The two network namespaces of ferry-link, each with a TUN device ("flink0") that ferry-link
// holds open, and the sweep that removes namespaces left by a ferry-link that died.
//
// Checklist of this adapter:
//   [x] named namespaces (`ip netns add`, so `ip netns exec NAME ...` works from outside)
//   [x] TUN opened inside each namespace (setns on this thread, then back), IFF_NO_PI and no
//       IFF_VNET_HDR: every read is one IP packet of at most the MTU (1500), no TSO/GSO
//   [x] point-to-point addresses in 198.18.0.0/15 only (RFC 2544 benchmark range), lo up
//   [x] IPv6 off on flink0, so router solicitations do not show up in the counts
//   [x] removal on exit and a sweep of stale namespaces whose owning pid is gone
//   [ ] netlink instead of the `ip` tool (iproute2's `ip` is called; it is simple and robust)
#pragma once

#include <string>
#include <vector>

namespace ferry::link {

// Every namespace ferry-link makes is named kNetnsPrefix + "<pid>-a" or "<pid>-b".
inline constexpr const char* kNetnsPrefix = "ferry-link-";
inline constexpr const char* kTunName = "flink0";

struct NetnsSide {
  std::string name;  // e.g. ferry-link-4242-a
  std::string addr;  // this side's address, e.g. 198.18.0.1
  int ns_fd = -1;    // /run/netns/<name>, for setns() in children
  int tun_fd = -1;   // non-blocking, close-on-exec
  bool created = false;
};

class LinkNamespaces {
 public:
  LinkNamespaces() = default;
  ~LinkNamespaces() { teardown(); }
  LinkNamespaces(const LinkNamespaces&) = delete;
  LinkNamespaces& operator=(const LinkNamespaces&) = delete;

  // Creates both namespaces and TUN devices. On failure returns false with `err`; what was
  // made is removed by teardown() (also run by the destructor).
  bool setup(const std::string& addr_a, const std::string& addr_b, std::string& err);
  // Closes the fds and deletes the namespaces. Idempotent.
  void teardown();

  NetnsSide a, b;
};

// True when `ip` is an IPv4 address inside 198.18.0.0/15.
bool is_benchmark_address(const std::string& ip);

// Deletes namespaces named kNetnsPrefix<pid>-a|b whose pid no longer exists. Returns the
// names removed.
std::vector<std::string> sweep_stale_namespaces();

// Runs `ip ARGS...` and waits; true on exit status 0. Its stderr goes to ours.
bool run_ip(const std::vector<std::string>& args);

}  // namespace ferry::link
