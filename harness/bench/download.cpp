// ferry-bench download: the SDK's download (`ferry download`, libcurl driven by the SDK's
// libuv loop, writing a partial file, hashing it, syncing and renaming it into place) against
// Debian's curl fetching the same bytes from Debian's nginx, on loopback, in the same run.
//
// Both servers serve the same file from the same file system (nginx a hard link of the file
// resd stored, so both read the same cached pages); both clients write into the same
// directory. The two run alternately --runs times; the report gives each one's median and the
// median of the pairwise ratios (ferry/nginx+curl of the same round).
//
// Durability: ferry's time includes making the file durable before it is renamed into place
// (fsync), which `curl -o` does not do. So after each curl run the bench also times
// `sync FILE` (an fsync of curl's file): curl + that sync is a second baseline with the same
// durability, reported next to the headline ratio. Between runs each output file is removed
// and the file system synced (untimed), so neither client pays for the other's write-back or
// discards.
//
// nginx (package nginx-light) is installed on first use, with RUNLEVEL=1 so that Debian's
// postinst does not start the system service.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "harness/bench/bench.h"
#include "harness/bench/bench_util.h"
#include "harness/bench/stats.h"
#include "tests/support/process.h"

namespace ferry::bench {
namespace {

std::string ensure_nginx() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx"}) {
    if (access(p, X_OK) == 0) return p;
  }
  fprintf(stderr, "ferry-bench: installing nginx-light (the baseline)...\n");
  if (system("RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light "
             ">&2 || (apt-get update -qq >&2 && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive "
             "apt-get install -y -qq nginx-light >&2)") != 0) {
    return "";
  }
  return access("/usr/sbin/nginx", X_OK) == 0 ? "/usr/sbin/nginx" : "";
}

// A loopback port nothing listens on right now (nginx cannot report an ephemeral port).
int free_port() {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(s);
  return port;
}

// The settings a tuned static-file nginx would use: sendfile, no access log, one worker
// (one download at a time), keep-alive irrelevant (one request per curl run).
bool write_nginx_conf(const std::string& dir, int port) {
  std::ofstream f(dir + "/nginx.conf");
  // `user root`: resd's stored files are 0600 and nginx's workers would drop to www-data
  // (ignored, with a warning, when the bench does not run as root).
  f << "daemon off;\nuser root;\nworker_processes 1;\npid " << dir << "/nginx.pid;\n"
    << "error_log stderr warn;\nevents { worker_connections 64; }\n"
    << "http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n"
    << "  client_body_temp_path " << dir << "/tmp;\n  proxy_temp_path " << dir << "/tmp;\n"
    << "  fastcgi_temp_path " << dir << "/tmp;\n  uwsgi_temp_path " << dir << "/tmp;\n"
    << "  scgi_temp_path " << dir << "/tmp;\n"
    << "  server {\n    listen 127.0.0.1:" << port << ";\n    root " << dir << "/www;\n  }\n}\n";
  return bool(f);
}

uint64_t message_id_from(const std::string& out) {
  uint64_t id = 0;
  // Each line is a JSON object; the READY status line carries the message id.
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    cJSON* j = cJSON_ParseWithLength(out.data() + start, end - start);
    if (j) {
      cJSON* m = cJSON_GetObjectItem(j, "message_id");
      if (cJSON_IsNumber(m) && m->valuedouble > 0) id = uint64_t(m->valuedouble);
      cJSON_Delete(j);
    }
    start = end + 1;
  }
  return id;
}

}  // namespace

int run_download(Args& args) {
  uint64_t size = parse_size(args.take("--size", "1G"));
  int runs = atoi(args.take("--runs", "3").c_str());
  std::string base = args.take("--dir", "/var/tmp");
  // Another build's `ferry` to time (an A/B of the SDK in one run); the servers stay ours.
  std::string ferry_bin = args.take("--ferry", "");
  if (!args.rest.empty() || size == 0 || runs < 1) {
    fprintf(stderr, "ferry-bench download: bad arguments (see --help)\n");
    return 2;
  }
  std::string nginx_bin = ensure_nginx();
  std::string curl_bin = find_in_path("curl");
  if (nginx_bin.empty() || access(curl_bin.c_str(), X_OK) != 0) {
    fprintf(stderr, "ferry-bench: needs nginx (nginx-light) and curl; installing failed\n");
    return 1;
  }
  std::string work = base + "/ferry-bench-download-" + std::to_string(getpid());
  std::filesystem::create_directories(work + "/www");
  std::filesystem::create_directories(work + "/tmp");
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{work};
  std::string file = work + "/source.bin";
  if (!make_file(file, size)) {
    fprintf(stderr, "ferry-bench: cannot write %s\n", file.c_str());
    return 1;
  }

  BenchServers servers;
  test::Process nginx;
  if (!servers.start(work, true)) return 1;
  auto cli = [&](const std::string& state, std::vector<std::string> rest) {
    return servers.cli(state, std::move(rest));
  };
  run_timed(cli("rx", {"register", "receiver", "bench-password"}), work + "/out.txt");
  run_timed(cli("tx", {"register", "sender", "bench-password"}), work + "/out.txt");
  Timed up = run_timed(cli("tx", {"send-file", "receiver", file, "--json"}), work + "/up.txt");
  uint64_t id = message_id_from(up.out);
  if (up.status != 0 || id == 0) {
    fprintf(stderr, "ferry-bench: the upload failed (exit %d)\n", up.status);
    return 1;
  }
  // nginx serves the very file resd stored (a hard link: same inode, same cached pages).
  std::string stored;
  for (auto& e : std::filesystem::recursive_directory_iterator(work + "/res/files")) {
    if (e.is_regular_file() && uint64_t(e.file_size()) == size) stored = e.path();
  }
  int port = free_port();
  std::string www_file = work + "/www/file.bin";
  std::error_code ec;
  std::filesystem::create_hard_link(stored.empty() ? file : stored, www_file, ec);
  if (ec) std::filesystem::copy_file(file, www_file, ec);
  if (ec || port == 0 || !write_nginx_conf(work, port) ||
      !nginx.spawn({nginx_bin, "-c", work + "/nginx.conf", "-p", work}, work + "/nginx.log")) {
    fprintf(stderr, "ferry-bench: cannot start nginx\n");
    return 1;
  }
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/file.bin";
  // nginx prints nothing when ready: wait until it answers.
  for (int i = 0; i < 100; i++) {
    Timed t = run_timed({curl_bin, "-sf", "-o", "/dev/null", "-r", "0-0", url}, work + "/w.txt");
    if (t.status == 0) break;
    usleep(50 * 1000);
  }

  // resd wrote the stored file with O_DIRECT, so none of it is in the page cache: read it once,
  // untimed, or the first round's nginx reads from the disk while ferry, after it, reads
  // pages nginx just cached (a bias in ferry's favour). Every round then starts warm.
  {
    std::ifstream warm(www_file, std::ios::binary);
    std::vector<char> buf(1 << 20);
    while (warm.read(buf.data(), static_cast<std::streamsize>(buf.size()))) {
    }
  }
  std::string sync_bin = find_in_path("sync");
  // Settles the file system between runs (write-back, the journal, discards of removed files).
  auto settle = [&] { run_timed({sync_bin, "-f", work}, work + "/s.txt"); };
  std::vector<double> fer, ngx, ngx_sync, ratio, ratio_sync, sync_s;
  long peak_rss_kb = 0;
  settle();
  for (int i = 0; i < runs; i++) {
    std::string c_out = work + "/curl.bin", f_out = work + "/ferry.bin";
    Timed ct = run_timed({curl_bin, "-sf", "-o", c_out, url}, work + "/c.txt");
    bool c_ok = ct.status == 0 && std::filesystem::file_size(c_out, ec) == size;
    Timed cs = run_timed({sync_bin, c_out}, work + "/s.txt");  // fsync(curl's file)
    double c = c_ok ? double(size) / 1e6 / ct.seconds : 0;
    double c_sync = c_ok && cs.status == 0 ? double(size) / 1e6 / (ct.seconds + cs.seconds) : 0;
    if (c == 0) {
      fprintf(stderr, "ferry-bench: curl %s exited %d; nginx said:\n", url.c_str(), ct.status);
      std::ifstream log(work + "/nginx.log");
      for (std::string line; std::getline(log, line);) fprintf(stderr, "  %s\n", line.c_str());
    }
    std::filesystem::remove(c_out, ec);
    settle();
    // A fresh state dir per round, so nothing is resumed from the previous round.
    std::string st = "rx" + std::to_string(i);
    std::filesystem::copy(work + "/rx", work + "/" + st, std::filesystem::copy_options::recursive,
                          ec);
    std::vector<std::string> dl = cli(st, {"download", std::to_string(id), "--out", f_out, "--json"});
    if (!ferry_bin.empty()) dl[0] = ferry_bin;
    Timed ft = run_timed(dl, work + "/f.txt");
    double f = ft.status == 0 && std::filesystem::file_size(f_out, ec) == size
                   ? double(size) / 1e6 / ft.seconds
                   : 0;
    if (ft.status != 0) fprintf(stderr, "ferry-bench: ferry download exited %d\n", ft.status);
    peak_rss_kb = std::max(peak_rss_kb, ft.max_rss_kb);
    std::filesystem::remove(f_out, ec);
    settle();
    fer.push_back(f);
    ngx.push_back(c);
    ngx_sync.push_back(c_sync);
    sync_s.push_back(cs.seconds);
    if (c > 0) ratio.push_back(f / c);
    if (c_sync > 0) ratio_sync.push_back(f / c_sync);
    if (!args.json)
      printf("  round %d: nginx+curl %.0f MB/s (+sync %.0f MB/s)  ferry %.0f MB/s\n", i + 1, c,
             c_sync, f);
  }
  nginx.terminate();
  servers.stop();

  double f_med = percentile(fer, 50), n_med = percentile(ngx, 50);
  double r_med = percentile(ratio, 50), rss_mb = double(peak_rss_kb) / 1024.0;
  double ns_med = percentile(ngx_sync, 50), rs_med = percentile(ratio_sync, 50);
  double sync_med = percentile(sync_s, 50);
  if (args.json) {
    cJSON* j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "mode", "download");
    cJSON_AddNumberToObject(j, "size_bytes", double(size));
    cJSON_AddNumberToObject(j, "runs", runs);
    cJSON_AddNumberToObject(j, "ferry_mb_s", f_med);
    cJSON_AddNumberToObject(j, "nginx_curl_mb_s", n_med);
    cJSON_AddNumberToObject(j, "ratio_nginx", r_med);
    cJSON_AddNumberToObject(j, "nginx_curl_sync_mb_s", ns_med);
    cJSON_AddNumberToObject(j, "ratio_nginx_sync", rs_med);
    cJSON_AddNumberToObject(j, "curl_sync_s", sync_med);
    cJSON_AddNumberToObject(j, "sdk_peak_rss_mb", rss_mb);
    char* s = cJSON_PrintUnformatted(j);
    printf("%s\n", s);
    cJSON_free(s);
    cJSON_Delete(j);
  } else {
    printf("ferry-bench download: %.0f MiB, %d rounds (medians)\n", double(size) / 1048576.0,
           runs);
    printf("  %-28s %10.0f MB/s\n", "nginx + curl (no hash/sync)", n_med);
    printf("  %-28s %10.0f MB/s\n", "ferry download (verified)", f_med);
    printf("  %-28s %10.0f MB/s  (fsync after curl: %.2f s)\n", "nginx + curl + sync",
           ns_med, sync_med);
    printf("  %-28s %10.2f  (target >= 0.9)\n", "ferry / nginx+curl", r_med);
    printf("  %-28s %10.2f  (same durability)\n", "ferry / nginx+curl+sync", rs_med);
    printf("  %-28s %10.1f MB\n", "SDK process peak RSS", rss_mb);
  }
  return 0;
}

}  // namespace ferry::bench
