#include "harness/chaos/uv/options.h"

#include <cstdlib>

#include "harness/chaos/core/faults.h"

namespace ferry::chaos {

const char* usage_text() {
  return "usage: ferry-chaos --listen HOST:PORT --upstream HOST:PORT [--seed N] [faults...]\n"
         "\n"
         "A frame-aware fault proxy for ferry connections (docs/harness.md).\n"
         "  --listen HOST:PORT           where clients connect (port 0: any free port)\n"
         "  --upstream HOST:PORT         the ferry-chatd or ferry-resd behind the proxy\n"
         "  --seed N                     seed of every decision (default 0); same seed and\n"
         "                               same traffic give the same faults\n"
         "  --scenario FILE              JSON settings and schedule (fixtures/scenarios/)\n"
         "  --control HOST:PORT          line protocol: set KEY VALUE | cut | refuse MS |\n"
         "                               clear | stats\n"
         "  --summary-file FILE          also write the exit summary (JSON) to FILE\n"
         "  --log-file FILE              fault log to FILE instead of stderr\n"
         "  --quiet                      no fault log\n"
         "  --max-frame N                largest frame body taken for a ferry frame\n"
         "Faults (each also as --up-NAME / --down-NAME for one direction; up = client to\n"
         "server). Probabilities are per frame:\n"
         "  --drop P  --dup P  --reorder P  --corrupt P  --cut-prob P\n"
         "  --delay MS[:JITTER_MS]  --rate BYTES_PER_S  --reorder-ms MS\n"
         "  --cut-after-bytes N  --cut-after-frames N\n"
         "  --blackhole-after-bytes N  --blackhole-after-frames N\n"
         "  --refuse-ms MS                refuse (reset) new connections for MS after start\n"
         "On SIGTERM/SIGINT it prints a JSON summary on stdout and exits 0.\n";
}

bool parse_host_port(const std::string& s, std::string& host, int& port) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = s.substr(0, colon);
  char* end = nullptr;
  long p = std::strtol(s.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || end == s.c_str() + colon + 1 || p < 0 || p > 65535) return false;
  port = int(p);
  return true;
}

bool parse_options(int argc, char** argv, Options& o, std::string& err) {
  bool have_listen = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      o.help = true;
      return true;
    }
    if (a == "--quiet") {
      o.quiet = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) return err = "unexpected argument '" + a + "'", false;
    if (i + 1 >= argc) return err = a + " needs a value", false;
    std::string v = argv[++i];
    if (a == "--listen") {
      if (!parse_host_port(v, o.listen_host, o.listen_port))
        return err = "--listen: expected HOST:PORT", false;
      have_listen = true;
    } else if (a == "--upstream") {
      if (!parse_host_port(v, o.upstream_host, o.upstream_port) || o.upstream_port == 0)
        return err = "--upstream: expected HOST:PORT", false;
    } else if (a == "--seed") {
      char* end = nullptr;
      o.seed = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || v[0] == '-')
        return err = "--seed: expected a non-negative integer", false;
      o.has_seed = true;
    } else if (a == "--scenario") {
      o.scenario_path = v;
    } else if (a == "--control") {
      std::string h;
      int p;
      if (!parse_host_port(v, h, p)) return err = "--control: expected HOST:PORT", false;
      o.control = v;
    } else if (a == "--summary-file") {
      o.summary_file = v;
    } else if (a == "--log-file") {
      o.log_file = v;
    } else if (a == "--max-frame") {
      char* end = nullptr;
      unsigned long long m = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || m == 0 || m > 0xFFFFFFFFull)
        return err = "--max-frame: expected 1..4294967295", false;
      o.max_frame = uint32_t(m);
    } else {
      // A fault setting: checked here so a typo fails before listening.
      Faults scratch;
      SettingEffects fx;
      std::string key = a.substr(2);
      if (!apply_setting(scratch, key, v, fx, err)) return err = "--" + err, false;
      if (fx.cut_now) return err = "--cut-now is only for schedules and the control interface", false;
      o.settings.emplace_back(key, v);
    }
  }
  if (!have_listen) return err = "--listen HOST:PORT is required", false;
  if (o.upstream_host.empty()) return err = "--upstream HOST:PORT is required", false;
  return true;
}

}  // namespace ferry::chaos
