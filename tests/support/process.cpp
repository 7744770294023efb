// Child-process helpers for integration tests (see process.h).
#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#ifndef FERRY_BIN_DIR
#error "FERRY_BIN_DIR must be defined by the build"
#endif

namespace ferry::test {

// ctest reads a test's stdout through a pipe, where stdio buffers fully: when ctest kills a
// hung test at its timeout, everything gtest printed (failures included) is lost with the
// buffer. Line buffering keeps the log of a hung test readable.
static const int stdout_line_buffered = setvbuf(stdout, nullptr, _IOLBF, 0);

// Tests write to sockets whose peer they have just killed; that must be an EPIPE to check,
// never a SIGPIPE that ends the test process and orphans the servers it started.
static const auto sigpipe_ignored = signal(SIGPIPE, SIG_IGN);

static int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

static std::string& bin_dir() {
  static std::string dir = FERRY_BIN_DIR;
  return dir;
}

void set_bin_dir(const std::string& dir) { bin_dir() = dir; }

std::string bin_path(const std::string& name) { return bin_dir() + "/" + name; }

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) abort();
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Process::~Process() {
  if (pid_ > 0) kill9();
}

static pid_t spawn_child(const std::vector<std::string>& argv, int out_fd, int err_fd,
                         int death_signal) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) return pid;
  // If the test process dies (a crash, ctest's timeout), its servers and clients die with it
  // instead of running on and holding ctest's output pipe open.
  prctl(PR_SET_PDEATHSIG, death_signal);
  if (getppid() != parent) _exit(127);  // it died before the line above
  signal(SIGPIPE, SIG_DFL);
  if (out_fd >= 0) dup2(out_fd, 1);
  if (err_fd >= 0) dup2(err_fd, 2);
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

bool Process::start(const std::vector<std::string>& argv, const std::string& ready_prefix,
                    int timeout_ms) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  pid_ = spawn_child(argv, fds[1], -1, death_signal_);
  close(fds[1]);
  out_fd_ = fds[0];
  std::string buf;
  int64_t deadline = now_ms() + timeout_ms;
  while (now_ms() < deadline) {
    struct pollfd p = {out_fd_, POLLIN, 0};
    int r = poll(&p, 1, 100);
    if (r > 0) {
      char tmp[4096];
      ssize_t n = read(out_fd_, tmp, sizeof tmp);
      if (n <= 0) break;  // child closed stdout: it died
      buf.append(tmp, static_cast<size_t>(n));
      size_t at = buf.find(ready_prefix);
      size_t eol = at == std::string::npos ? at : buf.find('\n', at);
      if (eol != std::string::npos) {
        std::string addr = buf.substr(at + ready_prefix.size(), eol - at - ready_prefix.size());
        size_t colon = addr.rfind(':');
        host_ = addr.substr(0, colon);
        port_ = atoi(addr.c_str() + colon + 1);
        // Keep draining stdout in the background is not needed: servers print one line.
        return port_ > 0;
      }
    }
  }
  kill9();
  return false;
}

bool Process::spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  int fd = open(log_path.empty() ? "/dev/null" : log_path.c_str(),
                O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_ = spawn_child(argv, fd, fd, death_signal_);
  if (fd >= 0) close(fd);
  return pid_ > 0;
}

bool Process::running() {
  if (pid_ <= 0) return false;
  int st;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void Process::kill9() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int st;
    waitpid(pid_, &st, 0);
    pid_ = -1;
  }
  if (out_fd_ >= 0) {
    close(out_fd_);
    out_fd_ = -1;
  }
}

int Process::wait(int timeout_ms) {
  if (pid_ <= 0) return -1;
  int64_t deadline = now_ms() + timeout_ms;
  while (true) {
    int st;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (out_fd_ >= 0) {
        close(out_fd_);
        out_fd_ = -1;
      }
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    if (now_ms() >= deadline) return -1;
    usleep(10000);
  }
}

int Process::terminate(int timeout_ms) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int st = wait(timeout_ms);
  if (st < 0) kill9();
  return st;
}

static void drain(int fd, std::string& into) {
  char tmp[65536];
  ssize_t n = read(fd, tmp, sizeof tmp);
  if (n > 0) into.append(tmp, static_cast<size_t>(n));
}

RunResult run(const std::vector<std::string>& argv, int timeout_ms) {
  RunResult res;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return res;
  pid_t pid = spawn_child(argv, out[1], err[1], SIGKILL);
  close(out[1]);
  close(err[1]);
  int64_t deadline = now_ms() + timeout_ms;
  bool out_open = true, err_open = true;
  while ((out_open || err_open) && now_ms() < deadline) {
    struct pollfd p[2] = {{out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}};
    if (poll(p, 2, 100) <= 0) continue;
    if (p[0].revents) {
      size_t before = res.out.size();
      drain(out[0], res.out);
      if (res.out.size() == before) out_open = false;
    }
    if (p[1].revents) {
      size_t before = res.err.size();
      drain(err[0], res.err);
      if (res.err.size() == before) err_open = false;
    }
  }
  close(out[0]);
  close(err[0]);
  int st = 0;
  while (true) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) break;
    if (now_ms() >= deadline) {
      ::kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      res.status = -1;
      return res;
    }
    usleep(10000);
  }
  res.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return res;
}

}  // namespace ferry::test
