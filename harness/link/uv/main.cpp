// ferry-link: a userspace netem between two network namespaces (issue 7 §1,
// docs/harness-link.md). Sets up the namespaces and TUN devices, forwards packets through
// two LinkCores on a libuv loop, runs the commands, and on the way out stops the commands,
// deletes the namespaces and prints a JSON report.
#include <signal.h>
#include <sys/wait.h>
#include <uv.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "harness/common/prng.h"
#include "harness/link/core/link_core.h"
#include "harness/link/uv/children.h"
#include "harness/link/uv/forwarder.h"
#include "harness/link/uv/netns.h"
#include "harness/link/uv/options.h"

using namespace ferry::link;

namespace {

struct Child {
  Command cmd;
  pid_t pid = -1;
  bool done = false;
  int status = -1;
};

// Everything the loop's callbacks share; lives on main's stack for the whole run.
struct Runtime {
  uv_loop_t* loop = nullptr;
  const Options* opts = nullptr;
  Forwarder* forwarder = nullptr;
  std::vector<Child> kids;
  uv_signal_t stop_signals[3];
  uv_signal_t chld;
  uv_timer_t grace;
  bool stopping = false;
  bool finished = false;
  bool status_set = false;
  int status = 0;
  int stopped_by = 0;  // the signal that ended the run, or 0
};

const int kStopSignals[3] = {SIGINT, SIGTERM, SIGHUP};

size_t live_children(const Runtime& rt) {
  size_t n = 0;
  for (const Child& c : rt.kids) n += !c.done && c.pid > 0;
  return n;
}

void finish(Runtime& rt) {
  if (rt.finished) return;
  rt.finished = true;
  for (uv_signal_t& s : rt.stop_signals) uv_close(reinterpret_cast<uv_handle_t*>(&s), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&rt.chld), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&rt.grace), nullptr);
  rt.forwarder->close(nullptr);
}

void on_grace(uv_timer_t* t) {
  auto& rt = *static_cast<Runtime*>(t->data);
  for (const Child& c : rt.kids) {
    if (!c.done) signal_child(c.pid, SIGKILL);
  }
}

// Stops the commands still running; the run ends when the last of them is reaped.
void stop(Runtime& rt) {
  if (rt.stopping) return;
  rt.stopping = true;
  if (live_children(rt) == 0) return finish(rt);
  for (const Child& c : rt.kids) {
    if (!c.done) signal_child(c.pid, SIGTERM);
  }
  uv_timer_start(&rt.grace, on_grace, uint64_t(rt.opts->stop_grace_ms), 0);
}

void set_status(Runtime& rt, int status) {
  if (rt.status_set) return;
  rt.status_set = true;
  rt.status = status;
}

// Has the run reached what --wait asked for?
void check_wait(Runtime& rt, const Child& just_done) {
  switch (rt.opts->wait) {
    case WaitFor::kAny:
      set_status(rt, just_done.status);
      return stop(rt);
    case WaitFor::kLast:
      if (&just_done == &rt.kids.back()) {
        set_status(rt, just_done.status);
        stop(rt);
      }
      return;
    case WaitFor::kAll: {
      if (live_children(rt) > 0) return;
      int first_failure = 0;
      for (const Child& c : rt.kids) {
        if (first_failure == 0) first_failure = c.status;
      }
      set_status(rt, first_failure);
      return stop(rt);
    }
  }
}

void reap(Runtime& rt) {
  for (Child& c : rt.kids) {
    if (c.done || c.pid <= 0) continue;
    int st = 0;
    if (waitpid(c.pid, &st, WNOHANG) != c.pid) continue;
    c.done = true;
    c.status = shell_status(st);
    std::fprintf(stderr, "ferry-link: %c: `%s` exited with status %d\n", c.cmd.side,
                 c.cmd.text.c_str(), c.status);
    if (!rt.stopping) check_wait(rt, c);
  }
  if (rt.stopping && live_children(rt) == 0) finish(rt);
}

void on_chld(uv_signal_t* s, int) { reap(*static_cast<Runtime*>(s->data)); }

void on_stop_signal(uv_signal_t* s, int signum) {
  auto& rt = *static_cast<Runtime*>(s->data);
  if (rt.stopping) {  // a second Ctrl-C: no more grace
    for (const Child& c : rt.kids) {
      if (!c.done) signal_child(c.pid, SIGKILL);
    }
    return;
  }
  rt.stopped_by = signum;
  set_status(rt, rt.kids.empty() ? 0 : 128 + signum);
  stop(rt);
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

std::string direction_json(const LinkCore& core, uint64_t write_errors) {
  std::string s = stats_json(core.stats(), format_link_spec(core.spec()));
  s.pop_back();  // the closing brace: add the adapter's own counter
  // Packets still on the wire when the run ended are discarded: packets_in - dropped +
  // duplicated = packets_out + held_at_exit.
  return s + ",\"write_errors\":" + std::to_string(write_errors) +
         ",\"held_at_exit\":" + std::to_string(core.held()) + "}";
}

std::string report_json(const Runtime& rt, const LinkNamespaces& ns, const LinkCore& ab,
                        const LinkCore& ba, uint64_t wall_ms) {
  std::string kids = "[";
  for (const Child& c : rt.kids) {
    if (kids.size() > 1) kids += ",";
    kids += "{\"side\":\"" + std::string(1, c.cmd.side) +
            "\",\"command\":" + json_string(c.cmd.text) +
            ",\"status\":" + std::to_string(c.status) + "}";
  }
  kids += "]";
  return "{\"type\":\"ferry-link\",\"seed\":" + std::to_string(rt.opts->seed) +
         ",\"a\":{\"netns\":" + json_string(ns.a.name) + ",\"addr\":" + json_string(ns.a.addr) +
         "},\"b\":{\"netns\":" + json_string(ns.b.name) + ",\"addr\":" + json_string(ns.b.addr) +
         "},\"wall_ms\":" + std::to_string(wall_ms) + ",\"status\":" + std::to_string(rt.status) +
         ",\"signal\":" + std::to_string(rt.stopped_by) + ",\"commands\":" + kids +
         ",\"a_to_b\":" + direction_json(ab, rt.forwarder->write_errors_a_to_b()) +
         ",\"b_to_a\":" + direction_json(ba, rt.forwarder->write_errors_b_to_a()) + "}";
}

int cleanup_only() {
  std::vector<std::string> removed = sweep_stale_namespaces();
  for (const std::string& name : removed) std::printf("removed %s\n", name.c_str());
  std::printf("ferry-link: %zu stale namespace(s) removed\n", removed.size());
  return 0;
}

// Starts the handles and the commands. False if the loop could not be set up.
bool start_run(Runtime& rt, const LinkNamespaces& ns) {
  for (int i = 0; i < 3; i++) {
    uv_signal_init(rt.loop, &rt.stop_signals[i]);
    rt.stop_signals[i].data = &rt;
    uv_signal_start(&rt.stop_signals[i], on_stop_signal, kStopSignals[i]);
  }
  uv_signal_init(rt.loop, &rt.chld);
  rt.chld.data = &rt;
  uv_signal_start(&rt.chld, on_chld, SIGCHLD);
  uv_timer_init(rt.loop, &rt.grace);
  rt.grace.data = &rt;
  int rc = rt.forwarder->start();
  if (rc != 0) {
    std::fprintf(stderr, "ferry-link: forwarder: %s\n", uv_strerror(rc));
    return false;
  }
  if (rt.opts->print_ready) {
    std::printf("ready a=%s %s b=%s %s\n", ns.a.name.c_str(), ns.a.addr.c_str(), ns.b.name.c_str(),
                ns.b.addr.c_str());
    std::fflush(stdout);
  }
  for (const Command& cmd : rt.opts->commands) {
    Child c;
    c.cmd = cmd;
    c.pid = spawn_in_netns(cmd.side == 'a' ? ns.a.ns_fd : ns.b.ns_fd, cmd.text);
    if (c.pid < 0) {
      c.done = true;
      c.status = 127;
      std::perror("ferry-link: fork");
    }
    rt.kids.push_back(c);
  }
  reap(rt);  // a command that failed at once
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string err;
  if (!parse_options(argc, argv, o, err)) {
    std::fprintf(stderr, "ferry-link: %s\n", err.c_str());
    return 2;
  }
  if (o.help) return std::fputs(usage_text(), stdout), 0;
  signal(SIGPIPE, SIG_IGN);
  if (o.cleanup) return cleanup_only();
  for (const std::string& name : sweep_stale_namespaces())
    std::fprintf(stderr, "ferry-link: removed stale namespace %s\n", name.c_str());

  const uint64_t started_us = monotonic_us();
  LinkNamespaces ns;
  if (!ns.setup(o.addr_a, o.addr_b, err)) {
    std::fprintf(stderr, "ferry-link: %s\n", err.c_str());
    return 1;  // ~LinkNamespaces removes what was made
  }
  uint64_t seed_state = o.seed;
  LinkCore a_to_b(o.a_to_b, ferry::harness::splitmix64(seed_state));
  LinkCore b_to_a(o.b_to_a, ferry::harness::splitmix64(seed_state));

  uv_loop_t loop;
  uv_loop_init(&loop);
  Forwarder forwarder(&loop, ns.a.tun_fd, ns.b.tun_fd, a_to_b, b_to_a);
  Runtime rt;
  rt.loop = &loop;
  rt.opts = &o;
  rt.forwarder = &forwarder;
  if (!start_run(rt, ns)) {
    set_status(rt, 1);
    stop(rt);
  } else if (o.commands.empty()) {
    std::fprintf(stderr, "ferry-link: waiting for SIGINT or SIGTERM\n");
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);

  ns.teardown();
  std::string report = report_json(rt, ns, a_to_b, b_to_a, (monotonic_us() - started_us) / 1000);
  std::printf("%s\n", report.c_str());
  std::fflush(stdout);
  if (!o.report_file.empty()) {
    std::ofstream f(o.report_file, std::ios::trunc);
    f << report << "\n";
  }
  return rt.status;
}
