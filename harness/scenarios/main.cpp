// ferry-scenarios: plays the fault harness's real-process scenarios (catalog.h) on 127.0.0.1
// and judges them; one line per run, a JSON report per run and a summary of all of them.
#include <unistd.h>

#include <cjson/cJSON.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "harness/scenarios/catalog.h"
#include "tests/support/process.h"

namespace {

using namespace ferry::scenarios;

const char* kUsage =
    "usage: ferry-scenarios [options]\n"
    "Plays ferry's real-process fault scenarios: ferry-chatd, ferry-resd, ferry-chaos and the\n"
    "ferry CLI on 127.0.0.1 in temp dirs, each process stopped by its pid. Every upload must end\n"
    "READY and byte-identical, every acknowledged text must arrive exactly once.\n"
    "  --list               list the scenarios and exit\n"
    "  --only NAME[,NAME]   run only these scenarios (default: all)\n"
    "  --group G            run only one group: upload, chat or crash\n"
    "  --seed N             run each scenario with seed N instead of its own\n"
    "  --seeds A..B         run each scenario once per seed in A..B\n"
    "  --report-dir DIR     write <name>-seed<N>.json per run and summary.json there\n"
    "  --bin-dir DIR        where ferry-chatd, ferry-resd, ferry-chaos and ferry are\n"
    "                       (default: the directory of ferry-scenarios)\n"
    "  --fixtures DIR       where the scenario files are (default: the source tree's\n"
    "                       fixtures/scenarios)\n"
    "Exit status: 0 if no run failed, 1 if any did, 2 on bad usage. A failure prints the\n"
    "command that replays it. Runs that could not start here (not root: skipped) or whose\n"
    "seed injected none of their fault (vacuous: passed, but proves nothing) are counted\n"
    "apart in the summary; each scenario's own seed is chosen to inject it.\n";

struct Options {
  bool list = false;
  std::vector<std::string> only;
  std::string group;
  bool seed_set = false;
  uint64_t seed_lo = 0, seed_hi = 0;
  std::string report_dir;
};

bool parse_u64(const std::string& s, uint64_t& out) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::strtoull(s.c_str(), nullptr, 10);
  return true;
}

int usage_error(const std::string& why) {
  std::fprintf(stderr, "ferry-scenarios: %s\n%s", why.c_str(), kUsage);
  return 2;
}

std::string self_dir() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "." : p.parent_path().string();
}

int run(int argc, char** argv) {
  Options o;
  ferry::test::set_bin_dir(self_dir());
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--list") {
      o.list = true;
    } else if (a == "--only") {
      if (!value(v)) return usage_error("--only needs names");
      for (size_t at = 0; at <= v.size();) {
        size_t comma = v.find(',', at);
        if (comma == std::string::npos) comma = v.size();
        if (comma > at) o.only.push_back(v.substr(at, comma - at));
        at = comma + 1;
      }
    } else if (a == "--group") {
      if (!value(o.group)) return usage_error("--group needs upload, chat or crash");
    } else if (a == "--seed") {
      if (!value(v) || !parse_u64(v, o.seed_lo)) return usage_error("--seed needs a number");
      o.seed_hi = o.seed_lo;
      o.seed_set = true;
    } else if (a == "--seeds") {
      size_t dots = value(v) ? v.find("..") : std::string::npos;
      if (dots == std::string::npos || !parse_u64(v.substr(0, dots), o.seed_lo) ||
          !parse_u64(v.substr(dots + 2), o.seed_hi) || o.seed_hi < o.seed_lo)
        return usage_error("--seeds needs A..B with A <= B");
      o.seed_set = true;
    } else if (a == "--report-dir") {
      if (!value(o.report_dir)) return usage_error("--report-dir needs a directory");
    } else if (a == "--bin-dir") {
      if (!value(v)) return usage_error("--bin-dir needs a directory");
      ferry::test::set_bin_dir(v);
    } else if (a == "--fixtures") {
      if (!value(v)) return usage_error("--fixtures needs a directory");
      set_fixtures_dir(v);
    } else {
      return usage_error("unknown option " + a);
    }
  }

  std::vector<const Scenario*> chosen;
  for (const std::string& name : o.only)
    if (!find_scenario(name)) return usage_error("no scenario named " + name + " (see --list)");
  for (const Scenario& s : catalog()) {
    if (!o.group.empty() && s.group != o.group) continue;
    if (!o.only.empty() && std::find(o.only.begin(), o.only.end(), s.name) == o.only.end())
      continue;
    chosen.push_back(&s);
  }
  if (o.list) {
    for (const Scenario& s : catalog())
      std::printf("%-24s %-6s seed %-4llu %s\n", s.name.c_str(), s.group.c_str(),
                  (unsigned long long)s.seed, s.what.c_str());
    return 0;
  }
  if (chosen.empty()) return usage_error("no scenario selected");
  if (!o.report_dir.empty()) std::filesystem::create_directories(o.report_dir);

  uint64_t runs = 0, failed = 0, skipped = 0, vacuous = 0, mismatches = 0, lost = 0, dup = 0,
           unexpected = 0;
  uint64_t sent = 0, resent = 0, resumes = 0;
  std::vector<std::string> replays;
  cJSON* failures = cJSON_CreateArray();
  uint64_t lo = o.seed_set ? o.seed_lo : 0, hi = o.seed_set ? o.seed_hi : 0;
  for (uint64_t seed = lo; seed <= hi; seed++) {
    for (const Scenario* s : chosen) {
      uint64_t use = o.seed_set ? seed : s->seed;
      ScenarioReport r = s->play(use);
      r.print();
      if (!o.report_dir.empty() && !r.write(o.report_dir))
        std::fprintf(stderr, "ferry-scenarios: cannot write a report into %s\n",
                     o.report_dir.c_str());
      runs++;
      skipped += r.skipped.empty() ? 0 : 1;
      vacuous += r.vacuous.empty() || !r.verdict.passed() ? 0 : 1;
      mismatches += r.hash_check == "MISMATCH" ? 1 : 0;
      lost += r.lost;
      dup += r.duplicated;
      unexpected += r.unexpected;
      sent += r.bytes_sent;
      resent += r.bytes_resent;
      resumes += r.resumes;
      if (!r.verdict.passed()) {
        failed++;
        std::string replay = "ferry-scenarios --only " + s->name + " --seed " + std::to_string(use);
        replays.push_back(replay);
        cJSON* f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "name", s->name.c_str());
        cJSON_AddNumberToObject(f, "seed", double(use));
        cJSON_AddStringToObject(f, "replay", replay.c_str());
        cJSON_AddItemToArray(failures, f);
      }
    }
  }
  cJSON* sum = cJSON_CreateObject();
  cJSON_AddNumberToObject(sum, "runs", double(runs));
  cJSON_AddNumberToObject(sum, "passed", double(runs - failed - skipped - vacuous));
  cJSON_AddNumberToObject(sum, "failed", double(failed));
  cJSON_AddNumberToObject(sum, "skipped", double(skipped));
  cJSON_AddNumberToObject(sum, "vacuous", double(vacuous));
  cJSON_AddNumberToObject(sum, "hash_mismatches", double(mismatches));
  cJSON_AddNumberToObject(sum, "lost", double(lost));
  cJSON_AddNumberToObject(sum, "duplicated", double(dup));
  cJSON_AddNumberToObject(sum, "unexpected", double(unexpected));
  cJSON_AddNumberToObject(sum, "bytes_sent", double(sent));
  cJSON_AddNumberToObject(sum, "bytes_resent", double(resent));
  cJSON_AddNumberToObject(sum, "resumes", double(resumes));
  cJSON_AddItemToObject(sum, "failures", failures);
  char* text = cJSON_PrintUnformatted(sum);
  std::printf("%s\n", text);
  if (!o.report_dir.empty()) std::ofstream(o.report_dir + "/summary.json") << text << "\n";
  cJSON_free(text);
  cJSON_Delete(sum);
  for (const std::string& r : replays) std::fprintf(stderr, "ferry-scenarios: FAILED; replay with: %s\n", r.c_str());
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) { return run(argc, argv); }
