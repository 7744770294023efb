// ferry-link's options and --help.
#include "harness/link/uv/options.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ferry::link {

const char* usage_text() {
  return "usage: ferry-link [OPTIONS] [--a CMD]... [--b CMD]...\n"
         "       ferry-link --cleanup\n"
         "\n"
         "A userspace netem. Makes two network namespaces, A and B, each with a TUN device\n"
         "(flink0, MTU 1500) and an address in 198.18.0.0/15, and forwards the IP packets\n"
         "between them through an emulated link: delay with jitter, random or bursty loss,\n"
         "duplication, reordering and a rate cap, decided by a PRNG seeded with --seed.\n"
         "Needs root (or CAP_SYS_ADMIN + CAP_NET_ADMIN), /dev/net/tun and iproute2's `ip`.\n"
         "\n"
         "Link (SPEC is netem-like, e.g. \"delay 20ms 5ms loss 1% rate 100mbit\"):\n"
         "  --link SPEC        both directions\n"
         "  --up-link SPEC     B -> A only (B is the client side: what it sends to A)\n"
         "  --down-link SPEC   A -> B only\n"
         "                     (a per-direction spec replaces --link for that direction)\n"
         "  SPEC words:  delay TIME [JITTER]            TIME: 20ms, 500us, 1s\n"
         "               loss [random] PCT              PCT: 1%, 0.5%\n"
         "               loss gemodel P [R [1-H [1-K]]] Gilbert-Elliott: good->bad P,\n"
         "                                              bad->good R (default 100%-P), loss in\n"
         "                                              bad 1-H (100%) and in good 1-K (0%)\n"
         "               duplicate PCT\n"
         "               reorder PCT                    a picked packet skips the delay\n"
         "               rate RATE                      100mbit, 512kbit, 2mbps (bytes/s)\n"
         "               burst SIZE                     token bucket depth (default 1500b)\n"
         "               limit PACKETS                  rate queue length (default 1000)\n"
         "  --seed N           seed of every decision (default 0)\n"
         "  --a-addr IP        A's address (default 198.18.0.1; must be in 198.18.0.0/15)\n"
         "  --b-addr IP        B's address (default 198.18.0.2)\n"
         "\n"
         "Commands (run with /bin/sh -c inside the namespace, in command-line order):\n"
         "  --a CMD            run CMD in A (repeatable)\n"
         "  --b CMD            run CMD in B (repeatable)\n"
         "  --wait last|all|any  end the run when the last command given exits (default),\n"
         "                     when all have, or when any has. The others then get SIGTERM\n"
         "                     (their whole process group), and SIGKILL 5 s later. The exit\n"
         "                     status is the awaited command's (all: the first non-zero).\n"
         "  With no command, ferry-link waits for SIGINT or SIGTERM (use `ip netns exec`).\n"
         "\n"
         "Output:\n"
         "  --print-ready      once the link forwards, print\n"
         "                       ready a=NAME ADDR b=NAME ADDR\n"
         "  --report-file FILE also write the exit report there\n"
         "  On exit ferry-link prints one JSON line on stdout: seed, namespaces, exit status,\n"
         "  and per direction (a_to_b, b_to_a) packets and bytes in and out, dropped (random,\n"
         "  burst, rate, queue), duplicated, reordered, delayed, max_held, write_errors\n"
         "  and held_at_exit (packets still on the wire, discarded).\n"
         "\n"
         "Clean-up: the namespaces (ferry-link-<pid>-a/-b) are deleted on exit, after\n"
         "SIGINT/SIGTERM/SIGHUP and when the commands crash. Each start removes namespaces\n"
         "left by a ferry-link that no longer runs (SIGKILL); --cleanup does only that.\n";
}

namespace {

bool parse_u64(const char* s, uint64_t& out) {
  if (!s || !*s) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || s[0] == '-') return false;
  out = v;
  return true;
}

}  // namespace

bool parse_options(int argc, char** argv, Options& o, std::string& err) {
  bool have_up = false, have_down = false;
  LinkSpec both, up, down;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    auto value = [&](const char*& v) {
      if (i + 1 >= argc) return err = arg + " needs a value", false;
      v = argv[++i];
      return true;
    };
    const char* v = nullptr;
    if (arg == "--help" || arg == "-h") {
      o.help = true;
    } else if (arg == "--cleanup") {
      o.cleanup = true;
    } else if (arg == "--print-ready") {
      o.print_ready = true;
    } else if (arg == "--link" || arg == "--up-link" || arg == "--down-link") {
      if (!value(v)) return false;
      LinkSpec& target = arg == "--link" ? both : arg == "--up-link" ? up : down;
      if (arg == "--up-link") have_up = true;
      if (arg == "--down-link") have_down = true;
      std::string why;
      if (!parse_link_spec(v, target, why)) return err = arg + " \"" + v + "\": " + why, false;
    } else if (arg == "--seed") {
      if (!value(v)) return false;
      if (!parse_u64(v, o.seed)) return err = "--seed needs a number", false;
    } else if (arg == "--a-addr" || arg == "--b-addr") {
      if (!value(v)) return false;
      (arg == "--a-addr" ? o.addr_a : o.addr_b) = v;
    } else if (arg == "--a" || arg == "--b") {
      if (!value(v)) return false;
      o.commands.push_back({arg[2], v});
    } else if (arg == "--wait") {
      if (!value(v)) return false;
      std::string w = v;
      if (w == "last")
        o.wait = WaitFor::kLast;
      else if (w == "all")
        o.wait = WaitFor::kAll;
      else if (w == "any")
        o.wait = WaitFor::kAny;
      else
        return err = "--wait takes last, all or any", false;
    } else if (arg == "--report-file") {
      if (!value(v)) return false;
      o.report_file = v;
    } else {
      return err = "unknown option " + arg + " (see --help)", false;
    }
  }
  o.a_to_b = have_down ? down : both;
  o.b_to_a = have_up ? up : both;
  return true;
}

}  // namespace ferry::link
