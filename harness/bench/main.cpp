// ferry-bench entry point: dispatches to a mode (see bench.h).
#include <cstdio>
#include <cstring>

#include "harness/bench/bench.h"

namespace ferry::bench {

std::string Args::take(const std::string& flag, const std::string& def) {
  for (size_t i = 0; i + 1 < rest.size(); i++) {
    if (rest[i] == flag) {
      std::string v = rest[i + 1];
      rest.erase(rest.begin() + long(i), rest.begin() + long(i) + 2);
      return v;
    }
  }
  return def;
}

bool Args::take_flag(const std::string& flag) {
  for (size_t i = 0; i < rest.size(); i++) {
    if (rest[i] == flag) {
      rest.erase(rest.begin() + long(i));
      return true;
    }
  }
  return false;
}

}  // namespace ferry::bench

static void usage(FILE* f) {
  fprintf(f,
          "usage: ferry-bench MODE [options] [--json]\n"
          "\n"
          "modes:\n"
          "  msgs    text messages through the SDK: N client pairs against a ferry-chatd it\n"
          "          starts on loopback (or --server HOST:PORT). Reports messages/s and p50/p99\n"
          "          send->push latency.\n"
          "          --pairs N (100)  --seconds S (10)  --rate MSGS_PER_S (0 = flat out)\n"
          "          --window W (64, sends in flight per client when flat out)\n"
          "          --loops K (1, shared SDK loop threads; 0 = a thread per client)\n"
          "          --server HOST:PORT (default: start ferry-chatd from this build)\n"
          "  upload  one file through ferry-chatd + ferry-resd with `ferry send-file`, against a\n"
          "          raw TCP copy with fsync and against tus (@tus/server + tus-js-client,\n"
          "          installed with npm), alternately. Reports medians and pairwise ratios.\n"
          "          --size N[K|M|G] (1G)  --runs R (3)  --dir DIR (/var/tmp)  --no-tus\n"
          "          --disk fresh|freed (fresh): every contender writes into fresh blocks\n"
          "          (nothing deleted until the end; needs 3 x size per round), or each\n"
          "          one right after as much was freed (see docs/benchmarks.md)\n"
          "          --link SPEC: ferry against tus only, through ferry-link's emulated link\n"
          "          (netem-like SPEC, e.g. \"delay 20ms loss 1%%\"; needs root): servers in\n"
          "          namespace A, clients in B. Then --size defaults to 64M, and\n"
          "          --seed N (1, ferry-link's)  --tus-parallel N (1; tus-js-client's\n"
          "          parallelUploads, which @tus/server refuses: no concatenation extension)\n"
          "          --cc NAME (TCP congestion control in both namespaces, default the\n"
          "          host's; a namespace takes only tcp_allowed_congestion_control names)\n"
          "  download  one uploaded file fetched with `ferry download` (the SDK: libcurl on its\n"
          "          libuv loop, hash verified, synced, renamed into place) against Debian's curl\n"
          "          fetching the same file from Debian's nginx (installed on first use),\n"
          "          alternately. Reports medians and the median pairwise ratio.\n"
          "          --size N[K|M|G] (1G)  --runs R (3)  --dir DIR (/var/tmp)\n"
          "          --ferry PATH: time another build's ferry CLI (an A/B in one run)\n"
          "\n"
          "--json prints one JSON object holding every figure instead of a table.\n");
}

int main(int argc, char** argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  ferry::bench::Args args;
  for (int i = 2; i < argc; i++) args.rest.push_back(argv[i]);
  args.json = args.take_flag("--json");
  std::string mode = argv[1];
  int rc;
  if (mode == "msgs") {
    rc = ferry::bench::run_msgs(args);
  } else if (mode == "upload") {
    rc = ferry::bench::run_upload(args);
  } else if (mode == "download") {
    rc = ferry::bench::run_download(args);
  } else {
    fprintf(stderr, "ferry-bench: unknown mode '%s'\n", mode.c_str());
    usage(stderr);
    return 2;
  }
  return rc;
}
