// ferry-bench msgs: text-message throughput and send->push latency through the public SDK.
//
// N pairs of SDK clients (in-memory state) talk to one ferry-chatd, running on --loops shared
// ferry_loop_t threads (default 1; 0 gives every client its own thread). One bench thread watches
// every client's ferry_event_fd() with epoll (the way an app plugs ferry into its own loop),
// drains events, and keeps each client sending: flat out with a window of sends in flight per
// client, or paced to --rate messages/s in total. Each text carries its send time (steady
// clock, same host), so the receiver's event gives the send->push latency. Figures cover the
// measuring period only, after a one-second warm-up.
#include <sys/epoll.h>

#include <cjson/cJSON.h>

#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ferry.h"
#include "harness/bench/bench.h"
#include "harness/bench/stats.h"
#include "tests/support/process.h"

namespace ferry::bench {
namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Peer {
  ferry_client_t* client = nullptr;
  std::string name;
  std::string partner;
  int outstanding = 0;
  bool authed = false;
};

struct Totals {
  uint64_t delivered = 0;
  uint64_t acked = 0;
  uint64_t failed = 0;
  std::vector<double> latency_ms;
};

class MsgsBench {
 public:
  MsgsBench(int pairs, int window, double rate, int loops) : window_(window), rate_(rate) {
    peers_.resize(size_t(pairs) * 2);
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    loops_.resize(size_t(loops), nullptr);
  }
  ~MsgsBench() {
    for (auto& p : peers_) ferry_client_destroy(p.client);
    for (ferry_loop_t* l : loops_) ferry_loop_destroy(l);
  }

  bool connect(const std::string& server, const std::string& tag) {
    for (ferry_loop_t*& l : loops_)
      if (ferry_loop_new(&l) != FERRY_OK) return false;
    for (size_t i = 0; i < peers_.size(); i++) {
      Peer& p = peers_[i];
      p.name = "b" + tag + "x" + std::to_string(i);
      p.partner = "b" + tag + "x" + std::to_string(i ^ 1);
      ferry_options_t* o = ferry_options_new();
      ferry_options_set_server(o, server.c_str());
      if (!loops_.empty()) ferry_options_set_loop(o, loops_[i % loops_.size()]);
      int rc = ferry_client_new(o, &p.client);
      ferry_options_destroy(o);
      if (rc != FERRY_OK) return false;
      struct epoll_event ev = {};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      epoll_ctl(ep_, EPOLL_CTL_ADD, ferry_event_fd(p.client), &ev);
      ferry_register(p.client, p.name.c_str(), "bench-password", nullptr);
    }
    size_t authed = 0;
    int64_t deadline = now_ns() + 120'000'000'000LL;
    while (authed < peers_.size() && now_ns() < deadline) {
      poll_once(100, [&](Peer& p, const ferry_event_t* ev) {
        if (ev->type == FERRY_EVENT_AUTH) {
          if (ev->status != FERRY_OK) {
            fprintf(stderr, "ferry-bench: register %s: %s\n", p.name.c_str(),
                    ferry_strerror(ev->status));
            exit(1);
          }
          p.authed = true;
          authed++;
        }
      });
    }
    return authed == peers_.size();
  }

  // Runs warm-up then the measuring period; returns totals for the measuring period.
  Totals run(double warmup_s, double seconds) {
    Totals t;
    int64_t start = now_ns();
    int64_t measure_from = start + int64_t(warmup_s * 1e9);
    int64_t stop = measure_from + int64_t(seconds * 1e9);
    double budget = 0;
    int64_t last_tick = start;
    size_t rr = 0;
    while (true) {
      int64_t now = now_ns();
      if (now >= stop) break;
      bool measuring = now >= measure_from;
      if (rate_ > 0) {
        budget += rate_ * double(now - last_tick) / 1e9;
        last_tick = now;
        while (budget >= 1) {
          send(peers_[rr++ % peers_.size()], now);
          budget -= 1;
        }
      } else {
        for (auto& p : peers_)
          while (p.outstanding < window_) send(p, now);
      }
      poll_once(rate_ > 0 ? 1 : 10, [&](Peer& p, const ferry_event_t* ev) {
        if (ev->type == FERRY_EVENT_MESSAGE_STATUS) {
          if (ev->u.message.status == FERRY_MSG_SENT) {
            p.outstanding--;
            if (measuring) t.acked++;
          } else if (ev->u.message.status == FERRY_MSG_FAILED) {
            p.outstanding--;
            t.failed++;
          }
        } else if (ev->type == FERRY_EVENT_MESSAGE && measuring) {
          const char* text = ev->u.message.text;
          int64_t sent_at = 0;  // "t=<ns> ..."
          std::from_chars(text + 2, text + std::strlen(text), sent_at);
          t.delivered++;
          t.latency_ms.push_back(double(now_ns() - sent_at) / 1e6);
        }
      });
    }
    return t;
  }

 private:
  void send(Peer& p, int64_t now) {
    char text[64];
    snprintf(text, sizeof text, "t=%" PRId64 " bench", now);
    if (ferry_send_text(p.client, p.partner.c_str(), text, nullptr) == FERRY_OK) p.outstanding++;
  }

  template <typename F>
  void poll_once(int timeout_ms, F&& on_event) {
    struct epoll_event evs[256];
    int n = epoll_wait(ep_, evs, 256, timeout_ms);
    for (int k = 0; k < n; k++) {
      Peer& p = peers_[evs[k].data.u64];
      ferry_event_t* ev = nullptr;
      while (ferry_poll_event(p.client, &ev, 0) == FERRY_OK) {
        on_event(p, ev);
        ferry_event_free(ev);
      }
    }
  }

  std::vector<Peer> peers_;
  std::vector<ferry_loop_t*> loops_;
  int window_;
  double rate_;
  int ep_;
};

}  // namespace

int run_msgs(Args& args) {
  int pairs = atoi(args.take("--pairs", "100").c_str());
  double seconds = atof(args.take("--seconds", "10").c_str());
  double rate = atof(args.take("--rate", "0").c_str());
  int window = atoi(args.take("--window", "64").c_str());
  int loops = atoi(args.take("--loops", "1").c_str());
  std::string server = args.take("--server", "");
  if (!args.rest.empty() || pairs < 1 || seconds <= 0 || window < 1 || loops < 0) {
    fprintf(stderr, "ferry-bench msgs: bad arguments (see --help)\n");
    return 2;
  }
  std::unique_ptr<test::TempDir> dir;
  std::unique_ptr<test::Process> chatd;
  if (server.empty()) {
    dir = std::make_unique<test::TempDir>();
    chatd = std::make_unique<test::Process>();
    // Password hashing is not what this measures; keep registration quick.
    if (!chatd->start({test::bin_path("ferry-chatd"), "--listen", "127.0.0.1:0", "--data",
                       dir->sub("chat"), "--kdf-iterations", "1000"})) {
      fprintf(stderr, "ferry-bench: could not start ferry-chatd\n");
      return 1;
    }
    server = chatd->address();
  }
  Totals t;
  {
    MsgsBench bench(pairs, window, rate, loops);
    if (!bench.connect(server, std::to_string(now_ns() % 1000000))) {
      fprintf(stderr, "ferry-bench: clients did not all register\n");
      return 1;
    }
    t = bench.run(1.0, seconds);
  }
  if (chatd) chatd->terminate();
  double msgs_per_s = double(t.delivered) / seconds;
  double acked_per_s = double(t.acked) / seconds;
  double p50 = percentile(t.latency_ms, 50), p99 = percentile(t.latency_ms, 99);
  double p999 = percentile(t.latency_ms, 99.9);
  if (args.json) {
    cJSON* j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "mode", "msgs");
    cJSON_AddNumberToObject(j, "pairs", pairs);
    cJSON_AddNumberToObject(j, "seconds", seconds);
    cJSON_AddNumberToObject(j, "rate_target", rate);
    cJSON_AddNumberToObject(j, "window", window);
    cJSON_AddNumberToObject(j, "loops", loops);
    cJSON_AddNumberToObject(j, "msgs_per_s", msgs_per_s);
    cJSON_AddNumberToObject(j, "acked_per_s", acked_per_s);
    cJSON_AddNumberToObject(j, "p50_ms", p50);
    cJSON_AddNumberToObject(j, "p99_ms", p99);
    cJSON_AddNumberToObject(j, "p999_ms", p999);
    cJSON_AddNumberToObject(j, "failed", double(t.failed));
    char* s = cJSON_PrintUnformatted(j);
    printf("%s\n", s);
    cJSON_free(s);
    cJSON_Delete(j);
  } else {
    printf("ferry-bench msgs: %d pairs, %d shared loops, %.0f s, %s\n", pairs, loops, seconds,
           rate > 0 ? ("paced at " + std::to_string(int(rate)) + " msgs/s").c_str()
                    : ("flat out, window " + std::to_string(window)).c_str());
    printf("  %-22s %12.0f\n", "delivered msgs/s", msgs_per_s);
    printf("  %-22s %12.0f\n", "acknowledged msgs/s", acked_per_s);
    printf("  %-22s %12.3f\n", "send->push p50 ms", p50);
    printf("  %-22s %12.3f\n", "send->push p99 ms", p99);
    printf("  %-22s %12.3f\n", "send->push p99.9 ms", p999);
    printf("  %-22s %12" PRIu64 "\n", "failed sends", t.failed);
  }
  return t.failed == 0 ? 0 : 1;
}

}  // namespace ferry::bench
