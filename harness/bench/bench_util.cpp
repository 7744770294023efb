// Helpers the ferry-bench modes share: sizes, test files, timing child processes.
#include "harness/bench/bench_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <random>

namespace ferry::bench {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

uint64_t parse_size(const std::string& s) {
  char* end = nullptr;
  double v = strtod(s.c_str(), &end);
  switch (end && *end ? *end : ' ') {
    case 'K': case 'k': v *= 1024; break;
    case 'M': case 'm': v *= 1024 * 1024; break;
    case 'G': case 'g': v *= 1024.0 * 1024 * 1024; break;
    default: break;
  }
  return uint64_t(v);
}

bool make_file(const std::string& path, uint64_t size) {
  FILE* f = fopen(path.c_str(), "wb");
  if (!f) return false;
  std::vector<uint64_t> block(1 << 17);  // 1 MiB
  std::mt19937_64 rng(12345);
  for (uint64_t done = 0; done < size;) {
    for (auto& w : block) w = rng();
    size_t n = size_t(std::min<uint64_t>(size - done, block.size() * 8));
    if (fwrite(block.data(), 1, n, f) != n) {
      fclose(f);
      return false;
    }
    done += n;
  }
  return fclose(f) == 0;
}

bool vary_file(const std::string& path, uint64_t round) {
  FILE* f = fopen(path.c_str(), "r+b");
  if (!f) return false;
  bool ok = fwrite(&round, 1, sizeof round, f) == sizeof round;
  return fclose(f) == 0 && ok;
}

double process_cpu_seconds(pid_t pid) {
  FILE* f = fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (!f) return -1;
  char buf[1024];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  // Fields after the command name, which is in parentheses and may hold spaces: utime and
  // stime are fields 14 and 15, the 12th and 13th after the ')'.
  const char* p = strrchr(buf, ')');
  if (!p) return -1;
  unsigned long long utime = 0, stime = 0;
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) {
    return -1;
  }
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

Timed run_timed(const std::vector<std::string>& argv, const std::string& out_path) {
  Timed t;
  double t0 = now_s();
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // Dies with the bench (a client inside a ferry-link namespace would otherwise outlive it).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    dup2(fd, 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int st = 0;
  struct rusage ru = {};
  wait4(pid, &st, 0, &ru);
  t.seconds = now_s() - t0;
  t.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  t.max_rss_kb = ru.ru_maxrss;
  t.cpu_seconds = double(ru.ru_utime.tv_sec) + double(ru.ru_utime.tv_usec) / 1e6 +
                  double(ru.ru_stime.tv_sec) + double(ru.ru_stime.tv_usec) / 1e6;
  FILE* f = fopen(out_path.c_str(), "r");
  if (f) {
    char line[4096];
    while (fgets(line, sizeof line, f)) t.out += line;
    fclose(f);
  }
  return t;
}

std::string find_in_path(const std::string& name) {
  const char* path = getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (size_t at = 0; at <= dirs.size();) {
    size_t colon = dirs.find(':', at);
    if (colon == std::string::npos) colon = dirs.size();
    std::string candidate = dirs.substr(at, colon - at) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    at = colon + 1;
  }
  return name;
}

bool BenchServers::start(const std::string& work_dir, bool http) {
  work = work_dir;
  std::string secret = work + "/secret.key";
  auto wrap = [&](std::vector<std::string> argv) {
    argv.insert(argv.begin(), server_wrap.begin(), server_wrap.end());
    return argv;
  };
  std::vector<std::string> resd_argv = {test::bin_path("ferry-resd"), "--listen", host + ":0",
                                        "--data", work + "/res", "--secret-file", secret};
  if (http) resd_argv.insert(resd_argv.end(), {"--http", host + ":0"});
  // Password hashing is not what the benchmarks measure; keep registration quick.
  if (!chatd.start(wrap({test::bin_path("ferry-chatd"), "--listen", host + ":0", "--data",
                         work + "/chat", "--secret-file", secret, "--kdf-iterations", "1000"}))) {
    fprintf(stderr, "ferry-bench: cannot start ferry-chatd\n");
    return false;
  }
  resd_argv.insert(resd_argv.end(), {"--chat", chatd.address()});
  if (!resd.start(wrap(resd_argv))) {
    fprintf(stderr, "ferry-bench: cannot start ferry-resd\n");
    return false;
  }
  return true;
}

std::vector<std::string> BenchServers::cli(const std::string& state,
                                           std::vector<std::string> rest) const {
  std::vector<std::string> argv = client_wrap;
  argv.insert(argv.end(), {test::bin_path("ferry"), "--server", chatd.address(), "--state",
                           work + "/" + state});
  argv.insert(argv.end(), rest.begin(), rest.end());
  return argv;
}

void BenchServers::stop() {
  resd.terminate();
  chatd.terminate();
}

}  // namespace ferry::bench
