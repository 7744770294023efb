// ferry-sim: the deterministic simulator's command line (issue 5 §2, docs/harness.md).
//
//   ferry-sim --seed N [--verbose] [--json]    replay one run exactly; --verbose prints its trace
//   ferry-sim --seeds A..B [--json]            run seeds A to B inclusive, print a summary
//
// Exit status: 0 when every run kept every invariant, 1 on the first failing seed (after
// printing it and the command that replays it), 2 on bad usage. Wall time is measured here
// only for the summary; nothing inside a run reads a clock.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "harness/sim/world.h"

namespace {

using ferry::sim::RunResult;

struct Options {
  uint64_t first = 0;
  uint64_t last = 0;
  bool single = false;  // --seed: also print the trace hash
  bool verbose = false;
  bool json = false;
};

bool parse_u64(const std::string& s, uint64_t& out) {
  char* end = nullptr;
  if (s.empty()) return false;
  out = std::strtoull(s.c_str(), &end, 10);
  return end && *end == '\0';
}

bool parse_args(int argc, char** argv, Options& o) {
  bool have = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--verbose") {
      o.verbose = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--seed" && i + 1 < argc) {
      if (!parse_u64(argv[++i], o.first)) return false;
      o.last = o.first;
      have = o.single = true;
    } else if (a == "--seeds" && i + 1 < argc) {
      std::string r = argv[++i];
      size_t dots = r.find("..");
      if (dots == std::string::npos || !parse_u64(r.substr(0, dots), o.first) ||
          !parse_u64(r.substr(dots + 2), o.last) || o.last < o.first) {
        return false;
      }
      have = true;
    } else {
      return false;
    }
  }
  return have;
}

struct Summary {
  uint64_t runs = 0, messages = 0, uploads = 0, upload_bytes = 0, chunks = 0, crashes = 0;
  uint64_t cuts = 0, partitions = 0, own_returns = 0, extra_lanes = 0, hash = 0;
  int64_t virtual_ms = 0, settle_max_ms = 0;
  double wall_s = 0;
  bool ok = true;
  RunResult failed;

  void add(const RunResult& r) {
    runs++;
    messages += r.messages;
    uploads += r.uploads;
    upload_bytes += r.upload_bytes;
    chunks += r.chunks;
    crashes += r.crashes;
    cuts += r.cuts;
    partitions += r.partitions;
    own_returns += r.own_upload_returns;
    extra_lanes += r.extra_lanes;
    virtual_ms += r.virtual_ms;
    settle_max_ms = std::max(settle_max_ms, r.settle_ms);
    hash = r.trace_hash;
    if (!r.ok) {
      ok = false;
      failed = r;
    }
  }

  void print_json(bool single) const {
    std::printf("{\"ok\":%s,\"runs\":%" PRIu64 ",\"messages\":%" PRIu64 ",\"uploads\":%" PRIu64
                ",\"upload_bytes\":%" PRIu64 ",\"chunks\":%" PRIu64 ",\"crashes\":%" PRIu64
                ",\"cuts\":%" PRIu64 ",\"partitions\":%" PRIu64 ",\"own_upload_returns\":%" PRIu64
                ",\"extra_lanes\":%" PRIu64 ",\"settle_max_s\":%.3f,\"virtual_s\":%.3f,\"wall_s\":%.3f",
                ok ? "true" : "false", runs, messages, uploads, upload_bytes, chunks, crashes, cuts,
                partitions, own_returns, extra_lanes, static_cast<double>(settle_max_ms) / 1000.0,
                static_cast<double>(virtual_ms) / 1000.0, wall_s);
    if (single) std::printf(",\"trace_hash\":\"%016" PRIx64 "\"", hash);
    if (!ok) std::printf(",\"failed_seed\":%" PRIu64, failed.seed);
    std::printf("}\n");
  }

  void print_text(bool single) const {
    std::printf("ferry-sim: %" PRIu64 " runs, %" PRIu64 " messages (%" PRIu64 " uploads, %" PRIu64
                " bytes), %" PRIu64 " chunks, %" PRIu64 " crashes, %" PRIu64 " cuts, %" PRIu64
                " partitions, %.1f virtual s, %.2f wall s%s\n",
                runs, messages, uploads, upload_bytes, chunks, crashes, cuts, partitions,
                static_cast<double>(virtual_ms) / 1000.0, wall_s, ok ? "" : " -- FAILED");
    std::printf("slowest settle after faults stopped: %.1f virtual s (bound %lld s)\n",
                static_cast<double>(settle_max_ms) / 1000.0,
                static_cast<long long>(ferry::sim::kLivenessMs / 1000));
    std::printf("own uploads returned by a sync or push (never delivered back): %" PRIu64 "\n",
                own_returns);
    std::printf("extra upload connections (lanes above the first) dialled: %" PRIu64 "\n",
                extra_lanes);
    if (single) std::printf("trace hash %016" PRIx64 "\n", hash);
  }
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_args(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: ferry-sim --seed N [--verbose] [--json]\n"
                 "       ferry-sim --seeds A..B [--json] [--verbose]\n");
    return 2;
  }
  auto wall_start = std::chrono::steady_clock::now();
  Summary sum;
  for (uint64_t seed = o.first; sum.ok; seed++) {
    sum.add(ferry::sim::run_seed(seed, o.verbose));
    if (seed == o.last) break;
  }
  sum.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  if (!sum.ok) {
    std::fprintf(stderr, "ferry-sim: seed %" PRIu64 " FAILED: %s\n", sum.failed.seed,
                 sum.failed.failure.c_str());
    std::fprintf(stderr, "replay with: ferry-sim --seed %" PRIu64 " --verbose\n", sum.failed.seed);
  }
  if (o.json) {
    sum.print_json(o.single);
  } else {
    sum.print_text(o.single);
  }
  return sum.ok ? 0 : 1;
}
