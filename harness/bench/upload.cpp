// ferry-bench upload: the ferry upload against two baselines measured in the same run, on the
// same file and the same file system:
//   raw  - a plain TCP copy of the file into the file system, fsync at the end: the practical
//          limit on this machine (the disk, not the network, bounds it);
//   tus  - @tus/server with its file store and tus-js-client (npm), one PATCH for the file;
//   ferry- `ferry send-file` from command start until the message is READY (every chunk and
//          the whole file verified, the file durable on disk), run as its own process so its
//          peak RSS is the SDK's.
// The three run alternately --runs times; the report gives each one's median and the median
// of the pairwise ratios (ferry/raw and ferry/tus of the same round), which is robust to this
// noisy machine speeding up or slowing down between rounds.
//
// With --link SPEC (issue 7 §3) the same comparison runs through an emulated link: ferry-link
// makes namespaces A and B joined by SPEC (e.g. "delay 20ms loss 1%"); ferry-chatd,
// ferry-resd and the tus server listen on A's address inside A, and `ferry send-file` and the
// tus client run inside B. ferry and tus alternate; there is no raw baseline (the disk is not
// the bound there, the link is).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <chrono>
#include <functional>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "harness/bench/bench.h"
#include "harness/bench/bench_util.h"
#include "harness/bench/link_env.h"
#include "harness/bench/stats.h"
#include "tests/support/process.h"

namespace ferry::bench {
namespace {

// Raw baseline: one TCP stream on loopback into a file, fsync at the end. Returns MB/s.
double raw_copy(const std::string& src, const std::string& dst) {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof addr;
  if (bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(ls, 1) != 0 ||
      getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &alen) != 0)
    return 0;
  double t0 = now_s();
  uint64_t received = 0;
  std::thread rx([&] {
    int c = accept(ls, nullptr, nullptr);
    int out = open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    std::vector<char> buf(1 << 20);
    ssize_t n;
    while ((n = read(c, buf.data(), buf.size())) > 0) {
      if (write(out, buf.data(), size_t(n)) != n) break;
      received += uint64_t(n);
    }
    fsync(out);
    close(out);
    close(c);
  });
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool ok = connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  int in = open(src.c_str(), O_RDONLY | O_CLOEXEC);
  std::vector<char> buf(1 << 20);
  ssize_t n;
  while (ok && (n = read(in, buf.data(), buf.size())) > 0) {
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(s, buf.data() + off, size_t(n - off));
      if (w <= 0) {
        ok = false;
        break;
      }
      off += w;
    }
  }
  close(in);
  close(s);
  rx.join();
  close(ls);
  double secs = now_s() - t0;
  uint64_t size = std::filesystem::file_size(src);
  return ok && received == size ? double(size) / 1e6 / secs : 0;
}

// Installs the tus baseline (npm) into <build>/tus-bench once.
std::string ensure_tus() {
  std::string dir = std::string(FERRY_BIN_DIR) + "/../tus-bench";
  std::string src = std::string(FERRY_SOURCE_DIR) + "/harness/bench/tus";
  std::filesystem::create_directories(dir);
  for (const char* f : {"package.json", "server.mjs", "client.mjs"})
    std::filesystem::copy_file(src + "/" + f, dir + "/" + f,
                               std::filesystem::copy_options::overwrite_existing);
  if (!std::filesystem::exists(dir + "/node_modules/@tus/server")) {
    std::string cmd = "cd '" + dir + "' && npm install --no-audit --no-fund >&2";
    if (system(cmd.c_str()) != 0) return "";
  }
  return dir;
}

double mb_s_from_json(const std::string& out) {
  cJSON* j = cJSON_Parse(out.c_str());
  double v = j ? cJSON_GetNumberValue(cJSON_GetObjectItem(j, "mb_s")) : 0;
  cJSON_Delete(j);
  return v > 0 ? v : 0;
}

// The last "mb_s" the CLI printed with --json (its own average over the upload).
double last_cli_mb_s(const std::string& out) {
  double v = 0;
  size_t at = 0;
  while (at < out.size()) {
    size_t eol = out.find('\n', at);
    if (eol == std::string::npos) eol = out.size();
    cJSON* j = cJSON_Parse(out.substr(at, eol - at).c_str());
    cJSON* m = j ? cJSON_GetObjectItem(j, "mb_s") : nullptr;
    if (cJSON_IsNumber(m) && m->valuedouble > 0) v = m->valuedouble;
    cJSON_Delete(j);
    at = eol + 1;
  }
  return v;
}

// ferry vs tus through ferry-link (see the file comment).
int run_upload_link(Args& args, const std::string& spec) {
  uint64_t size = parse_size(args.take("--size", "64M"));
  int runs = atoi(args.take("--runs", "3").c_str());
  int tus_parallel = atoi(args.take("--tus-parallel", "1").c_str());
  uint64_t seed = strtoull(args.take("--seed", "1").c_str(), nullptr, 10);
  std::string cc = args.take("--cc", "");
  std::string base = args.take("--dir", "/var/tmp");
  if (!args.rest.empty() || size == 0 || runs < 1 || tus_parallel < 1) {
    fprintf(stderr, "ferry-bench upload: bad arguments (see --help)\n");
    return 2;
  }
  std::string why = link_unavailable_reason();
  if (!why.empty()) {
    fprintf(stderr, "ferry-bench upload --link: %s\n", why.c_str());
    return 1;
  }
  std::string work = base + "/ferry-bench-upload-" + std::to_string(getpid());
  std::filesystem::create_directories(work);
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{work};
  std::string file = work + "/source.bin";
  if (!make_file(file, size)) {
    fprintf(stderr, "ferry-bench: cannot write %s\n", file.c_str());
    return 1;
  }
  std::string tus_dir = ensure_tus();
  if (tus_dir.empty()) {
    fprintf(stderr, "ferry-bench: npm install of the tus baseline failed\n");
    return 1;
  }

  // Declared before the servers: destroyed after them, so nothing runs in A or B when
  // ferry-link deletes the namespaces, whichever way this function returns.
  LinkEnv link;
  if (!link.start(spec, seed, work)) return 1;
  if (!cc.empty() && !link.set_congestion_control(cc)) return 1;
  std::string tcp_cc = link.congestion_control();
  BenchServers servers;
  test::Process tusd;
  servers.host = link.addr_a;
  servers.server_wrap = link.wrap_a();
  servers.client_wrap = link.wrap_b();
  if (!servers.start(work, false)) return 1;
  Timed reg = run_timed(servers.cli("rx", {"register", "receiver", "bench-password"}),
                        work + "/out.txt");
  if (reg.status != 0) {
    fprintf(stderr, "ferry-bench: register through the link failed (%d)\n", reg.status);
    return 1;
  }
  std::filesystem::create_directories(work + "/tus");
  std::vector<std::string> tus_argv = link.wrap_a();
  tus_argv.insert(tus_argv.end(),
                  {find_in_path("node"), tus_dir + "/server.mjs", work + "/tus", link.addr_a});
  if (!tusd.start(tus_argv)) {
    fprintf(stderr, "ferry-bench: cannot start the tus server in %s\n", link.ns_a.c_str());
    return 1;
  }
  std::string tus_setting =
      "tus-js-client 4.3.1, one PATCH (chunkSize Infinity), parallelUploads " +
      std::to_string(tus_parallel) +
      "; @tus/server 2.4.5 FileStore (no fsync; no concatenation extension, so parallelUploads"
      " > 1 is refused with 501)";

  // The client's own time from upload.start() (the headline, as in the loopback mode), and
  // `*cmd_mb_s` from its command start like ferry's figure (node's start-up included).
  auto run_tus = [&](double* cmd_mb_s) {
    std::vector<std::string> argv = link.wrap_b();
    argv.insert(argv.end(), {find_in_path("node"), tus_dir + "/client.mjs",
                             "http://" + tusd.address() + "/files", file, "0",
                             std::to_string(tus_parallel)});
    Timed tt = run_timed(argv, work + "/tus-out.txt");
    if (tt.status != 0) fprintf(stderr, "ferry-bench: tus client exited %d\n", tt.status);
    for (auto& e : std::filesystem::directory_iterator(work + "/tus"))
      std::filesystem::remove(e.path());
    *cmd_mb_s = tt.status == 0 ? double(size) / 1e6 / tt.seconds : 0;
    return tt.status == 0 ? mb_s_from_json(tt.out) : 0;
  };
  long peak_rss_kb = 0;
  auto run_ferry = [&](int i, double* cli_mb_s) {
    // A fresh sender per round, so "instant send" (same hash, same sender) never kicks in.
    std::string sender = "s" + std::to_string(i);
    run_timed(servers.cli(sender, {"register", sender + "x", "bench-password"}),
              work + "/out.txt");
    Timed ft = run_timed(
        servers.cli(sender, {"send-file", "receiver", file, "--json", "--timeout", "3600"}),
        work + "/f.txt");
    peak_rss_kb = std::max(peak_rss_kb, ft.max_rss_kb);
    if (ft.status != 0) fprintf(stderr, "ferry-bench: send-file exited %d\n", ft.status);
    *cli_mb_s = ft.status == 0 ? last_cli_mb_s(ft.out) : 0;
    return ft.status == 0 ? double(size) / 1e6 / ft.seconds : 0;
  };

  std::vector<double> tus, tus_cmd, fer, fer_cli, r_tus, r_tus_cmd;
  for (int i = 0; i < runs; i++) {
    double f = 0, fc = 0, t = 0, tc = 0;
    // Alternate who goes first, so a drift in the machine's load hits both alike.
    if (i % 2 == 0) {
      f = run_ferry(i, &fc);
      t = run_tus(&tc);
    } else {
      t = run_tus(&tc);
      f = run_ferry(i, &fc);
    }
    tus.push_back(t);
    tus_cmd.push_back(tc);
    fer.push_back(f);
    fer_cli.push_back(fc);
    if (t > 0 && f > 0) r_tus.push_back(f / t);
    if (tc > 0 && f > 0) r_tus_cmd.push_back(f / tc);
    if (!args.json)
      printf("  round %d: ferry %.2f MB/s (CLI's own figure %.2f)  tus %.2f MB/s (%.2f from its "
             "command start)\n",
             i + 1, f, fc, t, tc);
    fflush(stdout);
  }
  servers.stop();
  tusd.terminate();
  std::string report = link.stop();

  double tus_med = percentile(tus, 50), f_med = percentile(fer, 50);
  double fc_med = percentile(fer_cli, 50), ratio_tus = percentile(r_tus, 50);
  double tus_cmd_med = percentile(tus_cmd, 50), ratio_tus_cmd = percentile(r_tus_cmd, 50);
  cJSON* rep = cJSON_Parse(report.c_str());
  auto dropped = [&](const char* dir) {
    cJSON* d = rep ? cJSON_GetObjectItem(cJSON_GetObjectItem(rep, dir), "dropped") : nullptr;
    double n = 0;
    for (cJSON* c = d ? d->child : nullptr; c; c = c->next) n += cJSON_GetNumberValue(c);
    return n;
  };
  auto packets = [&](const char* dir) {
    cJSON* d = rep ? cJSON_GetObjectItem(rep, dir) : nullptr;
    return d ? cJSON_GetNumberValue(cJSON_GetObjectItem(d, "packets_in")) : 0.0;
  };
  if (args.json) {
    cJSON* j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "mode", "upload");
    cJSON_AddStringToObject(j, "link", spec.c_str());
    cJSON_AddNumberToObject(j, "seed", double(seed));
    cJSON_AddStringToObject(j, "tcp_cc", tcp_cc.c_str());
    cJSON_AddNumberToObject(j, "size_bytes", double(size));
    cJSON_AddNumberToObject(j, "runs", runs);
    cJSON_AddNumberToObject(j, "ferry_mb_s", f_med);
    cJSON_AddNumberToObject(j, "ferry_cli_mb_s", fc_med);
    cJSON_AddNumberToObject(j, "tus_mb_s", tus_med);
    cJSON_AddNumberToObject(j, "ratio_tus", ratio_tus);
    cJSON_AddNumberToObject(j, "tus_cmd_mb_s", tus_cmd_med);
    cJSON_AddNumberToObject(j, "ratio_tus_cmd", ratio_tus_cmd);
    cJSON_AddNumberToObject(j, "sdk_peak_rss_mb", double(peak_rss_kb) / 1024.0);
    cJSON_AddNumberToObject(j, "tus_parallel", tus_parallel);
    cJSON_AddStringToObject(j, "tus_setting", tus_setting.c_str());
    if (rep) cJSON_AddItemToObject(j, "link_report", cJSON_Duplicate(rep, true));
    char* s = cJSON_PrintUnformatted(j);
    printf("%s\n", s);
    cJSON_free(s);
    cJSON_Delete(j);
  } else {
    printf("ferry-bench upload --link \"%s\" (seed %llu, TCP %s): %.0f MiB, %d rounds (medians)\n",
           spec.c_str(), static_cast<unsigned long long>(seed), tcp_cc.c_str(),
           double(size) / 1048576.0, runs);
    printf("  %-30s %10.2f MB/s\n", "ferry send-file to READY", f_med);
    printf("  %-30s %10.2f MB/s\n", "  (the CLI's own average)", fc_med);
    printf("  %-30s %10.2f MB/s\n", "tus", tus_med);
    printf("  %-30s %10.2f  (target >= 3)\n", "ferry / tus", ratio_tus);
    printf("  %-30s %10.2f MB/s\n", "tus from its command start", tus_cmd_med);
    printf("  %-30s %10.2f\n", "  ferry / that", ratio_tus_cmd);
    printf("  %-30s %10.1f MB\n", "SDK process peak RSS", double(peak_rss_kb) / 1024.0);
    printf("  tus setting: %s\n", tus_setting.c_str());
    if (rep)
      printf("  link: B->A %.0f packets, %.0f dropped; A->B %.0f packets, %.0f dropped\n",
             packets("b_to_a"), dropped("b_to_a"), packets("a_to_b"), dropped("a_to_b"));
  }
  cJSON_Delete(rep);
  return (f_med > 0 && tus_med > 0) ? 0 : 1;
}

}  // namespace

int run_upload(Args& args) {
  std::string link_spec = args.take("--link", "");
  if (!link_spec.empty()) return run_upload_link(args, link_spec);
  uint64_t size = parse_size(args.take("--size", "1G"));
  int runs = atoi(args.take("--runs", "3").c_str());
  bool skip_tus = args.take_flag("--no-tus");
  std::string base = args.take("--dir", "/var/tmp");
  std::string disk = args.take("--disk", "fresh");
  if (!args.rest.empty() || size == 0 || runs < 1 || (disk != "fresh" && disk != "freed")) {
    fprintf(stderr, "ferry-bench upload: bad arguments (see --help)\n");
    return 2;
  }
  bool fresh = disk == "fresh";
  // --disk fresh keeps what every contender wrote until the end: the source, plus per round
  // a raw copy, tus's file and resd's stored file (--disk freed: the source plus two files).
  uint64_t need = fresh ? size * (1 + 3 * uint64_t(runs)) + (64ull << 20) : size * 3;
  std::error_code ec;
  std::filesystem::space_info space = std::filesystem::space(base, ec);
  if (ec || space.available < need) {
    fprintf(stderr,
            "ferry-bench upload: --disk %s needs %.1f GB free in %s, %s %.1f GB; use fewer "
            "--runs, a smaller --size, another --dir, or --disk freed\n",
            disk.c_str(), double(need) / 1e9, base.c_str(), ec ? "cannot tell; assumed" : "it has",
            ec ? 0.0 : double(space.available) / 1e9);
    return 1;
  }
  std::string work = base + "/ferry-bench-upload-" + std::to_string(getpid());
  std::filesystem::create_directories(work);
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{work};
  std::string file = work + "/source.bin";
  if (!make_file(file, size)) {
    fprintf(stderr, "ferry-bench: cannot write %s\n", file.c_str());
    return 1;
  }
  std::string tus_dir = skip_tus ? "" : ensure_tus();
  if (!skip_tus && tus_dir.empty()) {
    fprintf(stderr, "ferry-bench: npm install of the tus baseline failed (use --no-tus)\n");
    return 1;
  }

  // ferry: chat + resource server on loopback, data on the same file system.
  BenchServers servers;
  test::Process tusd;
  if (!servers.start(work, false)) return 1;
  auto cli = [&](const std::string& state, std::vector<std::string> rest) {
    return servers.cli(state, std::move(rest));
  };
  run_timed(cli("rx", {"register", "receiver", "bench-password"}), work + "/out.txt");
  if (!skip_tus) {
    std::filesystem::create_directories(work + "/tus");
    if (!tusd.start({find_in_path("node"), tus_dir + "/server.mjs", work + "/tus"})) {
      fprintf(stderr, "ferry-bench: cannot start the tus server\n");
      return 1;
    }
  }

  std::vector<double> raw, tus, fer, r_raw, r_tus, sdk_cpu, resd_cpu, busy;
  long peak_rss_kb = 0;
  // The disk must be the same for all three. On this machine's (a virtual device; ext4
  // mounted with `discard`) a buffered writer runs at ~450 MB/s into fresh blocks and at up
  // to ~1.5 GB/s into blocks freed moments before (docs/benchmarks.md, sessions 13-14), so a
  // contender that runs right after another's output is deleted is measured on another disk.
  //   fresh (default): nothing is deleted until the end, and 8 bytes of the source change
  //     every round (all three send the same bytes within a round), so resd keeps each
  //     round's file too instead of dropping it as already stored: no one writes into freed
  //     blocks. Needs 3 x size per round.
  //   freed: before each contender a file of the same size is written, synced and deleted,
  //     so every one of them writes right after that much space was freed.
  // The order turns every round as well (raw-tus-ferry, tus-ferry-raw, ferry-raw-tus), and
  // the file system is synced before each contender starts.
  auto free_space_before = [&] {
    if (fresh) return;
    std::string freer = work + "/freed.bin";
    make_file(freer, size);
    sync();
    std::filesystem::remove(freer);
  };
  for (int i = 0; i < runs; i++) {
    double r = 0, t = 0, f = 0;
    Timed ft;
    if (fresh && !vary_file(file, uint64_t(i) + 1)) {
      fprintf(stderr, "ferry-bench: cannot change %s\n", file.c_str());
      return 1;
    }
    auto run_raw = [&] {
      std::string out = work + "/raw-copy-" + std::to_string(i) + ".bin";
      r = raw_copy(file, out);
      if (!fresh) std::filesystem::remove(out);
    };
    auto run_tus = [&] {
      if (skip_tus) return;
      Timed tt = run_timed({"node", tus_dir + "/client.mjs",
                            "http://" + tusd.address() + "/files", file, "0"},
                           work + "/tus-out.txt");
      t = tt.status == 0 ? mb_s_from_json(tt.out) : 0;
      if (!fresh) {
        for (auto& e : std::filesystem::directory_iterator(work + "/tus"))
          std::filesystem::remove(e.path());
      }
    };
    auto run_ferry = [&] {
      // A fresh sender per round, so "instant send" (same hash, same sender) never kicks in.
      std::string sender = "s" + std::to_string(i);
      run_timed(cli(sender, {"register", sender + "x", "bench-password"}), work + "/out.txt");
      // CPU of both ferry processes over the upload: on 2 cores it, not the disk, bounds
      // ferry (docs/benchmarks.md, "Where the CPU goes").
      double resd_cpu0 = process_cpu_seconds(servers.resd.pid());
      ft = run_timed(cli(sender, {"send-file", "receiver", file, "--json"}), work + "/f.txt");
      double resd_cpu1 = process_cpu_seconds(servers.resd.pid());
      f = ft.status == 0 ? double(size) / 1e6 / ft.seconds : 0;
      sdk_cpu.push_back(ft.cpu_seconds);
      if (resd_cpu0 >= 0 && resd_cpu1 >= resd_cpu0) {
        resd_cpu.push_back(resd_cpu1 - resd_cpu0);
        // Share of the machine's two cores both processes kept busy for the upload's wall
        // time.
        if (ft.seconds > 0) busy.push_back((ft.cpu_seconds + resd_cpu.back()) / (2 * ft.seconds));
      }
      peak_rss_kb = std::max(peak_rss_kb, ft.max_rss_kb);
      if (ft.status != 0) fprintf(stderr, "ferry-bench: send-file exited %d\n", ft.status);
    };
    std::function<void()> order[3] = {run_raw, run_tus, run_ferry};
    for (int k = 0; k < 3; k++) {
      free_space_before();
      sync();
      order[(i + k) % 3]();
    }
    raw.push_back(r);
    tus.push_back(t);
    fer.push_back(f);
    if (r > 0) r_raw.push_back(f / r);
    if (t > 0) r_tus.push_back(f / t);
    if (!args.json) {
      static const char* const kOrder[3] = {"raw, tus, ferry", "tus, ferry, raw",
                                            "ferry, raw, tus"};
      printf("  round %d (%s): raw %.0f MB/s  tus %.0f MB/s  ferry %.0f MB/s (%.2f s; CPU: SDK "
             "%.2f s, resd %.2f s)\n",
             i + 1, kOrder[i % 3], r, t, f, ft.seconds, ft.cpu_seconds,
             resd_cpu.empty() ? 0.0 : resd_cpu.back());
    }
  }
  servers.stop();
  if (!skip_tus) tusd.terminate();

  double raw_med = percentile(raw, 50), tus_med = percentile(tus, 50), f_med = percentile(fer, 50);
  double ratio_raw = percentile(r_raw, 50), ratio_tus = percentile(r_tus, 50);
  double rss_mb = double(peak_rss_kb) / 1024.0;
  if (args.json) {
    cJSON* j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "mode", "upload");
    cJSON_AddNumberToObject(j, "size_bytes", double(size));
    cJSON_AddNumberToObject(j, "runs", runs);
    cJSON_AddStringToObject(j, "disk", disk.c_str());
    cJSON_AddNumberToObject(j, "ferry_mb_s", f_med);
    cJSON_AddNumberToObject(j, "raw_mb_s", raw_med);
    cJSON_AddNumberToObject(j, "tus_mb_s", tus_med);
    cJSON_AddNumberToObject(j, "ratio_raw", ratio_raw);
    cJSON_AddNumberToObject(j, "ratio_tus", ratio_tus);
    cJSON_AddNumberToObject(j, "sdk_peak_rss_mb", rss_mb);
    cJSON_AddNumberToObject(j, "sdk_cpu_s", percentile(sdk_cpu, 50));
    if (!resd_cpu.empty()) {
      cJSON_AddNumberToObject(j, "resd_cpu_s", percentile(resd_cpu, 50));
      cJSON_AddNumberToObject(j, "ferry_cpu_busy", percentile(busy, 50));
    }
    cJSON_AddStringToObject(j, "tus_settings", "tus-js-client 4.3.1, one PATCH (chunkSize Infinity), @tus/server 2.4.5 FileStore (no fsync)");
    char* s = cJSON_PrintUnformatted(j);
    printf("%s\n", s);
    cJSON_free(s);
    cJSON_Delete(j);
  } else {
    printf("ferry-bench upload: %.0f MiB, %d rounds (medians), --disk %s (%s)\n",
           double(size) / 1048576.0, runs, disk.c_str(),
           fresh ? "every contender writes into fresh blocks"
                 : "every contender writes right after as much was freed");
    printf("  %-26s %10.0f MB/s\n", "raw TCP copy + fsync", raw_med);
    printf("  %-26s %10.0f MB/s\n", "tus (one PATCH, no fsync)", tus_med);
    printf("  %-26s %10.0f MB/s\n", "ferry send-file to READY", f_med);
    printf("  %-26s %10.2f  (target >= 0.85)\n", "ferry / raw", ratio_raw);
    printf("  %-26s %10.2f  (target >= 1.25)\n", "ferry / tus", ratio_tus);
    printf("  %-26s %10.1f MB\n", "SDK process peak RSS", rss_mb);
    printf("  %-26s %10.2f s SDK + %.2f s resd: %.0f%% of 2 cores over the upload\n",
           "ferry CPU (medians)", percentile(sdk_cpu, 50),
           resd_cpu.empty() ? 0.0 : percentile(resd_cpu, 50), 100 * percentile(busy, 50));
  }
  return 0;
}

}  // namespace ferry::bench
