// ferry-bench upload --link: an emulated link from ferry-link (harness/link/, docs/harness.md,
// last section). ferry-link --print-ready makes namespaces A (server side) and B (client side)
// and forwards packets between them; the benchmark runs servers in A and clients in B through
// `ip netns exec`. stop() (also run by the destructor) ends ferry-link with SIGTERM, which
// deletes both namespaces; if that fails it runs `ferry-link --cleanup` and deletes them itself.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace ferry::bench {

class LinkEnv {
 public:
  LinkEnv() = default;
  ~LinkEnv() { stop(); }
  LinkEnv(const LinkEnv&) = delete;
  LinkEnv& operator=(const LinkEnv&) = delete;

  // Starts ferry-link with `spec` in both directions; its output goes to work/link.log, its
  // exit report to work/link.json. False (with a message on stderr) when it is not ready in 30 s.
  bool start(const std::string& spec, uint64_t seed, const std::string& work);
  // Sets the default TCP congestion control of both namespaces (a per-namespace sysctl; the
  // host's is untouched). Outside the init namespace the kernel takes only the names in
  // net.ipv4.tcp_allowed_congestion_control (here: reno bbr). False with a message on failure.
  bool set_congestion_control(const std::string& name);
  // The default TCP congestion control in namespace B (the uploading side).
  std::string congestion_control() const;
  // `ip netns exec A|B` in front of argv.
  std::vector<std::string> wrap_a() const;
  std::vector<std::string> wrap_b() const;
  // SIGTERM to ferry-link, wait for it; returns its JSON report ("" if none). Idempotent.
  // Stop every process started in A or B first: ferry-link does not know them.
  std::string stop();

  std::string ns_a, ns_b, addr_a, addr_b;

 private:
  test::Process link_;
  std::string log_, report_;
};

// Why this machine cannot run ferry-link ("" when it can): root, /dev/net/tun, iproute2.
std::string link_unavailable_reason();
// Absolute path of iproute2's ip.
std::string ip_path();

}  // namespace ferry::bench
