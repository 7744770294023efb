// The simulation loop (see world.h).
#include "harness/sim/world.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "harness/sim/nodes.h"

namespace ferry::sim {

namespace {

constexpr int64_t kEpochMs = 1'700'000'000'000;  // the cores want Unix-epoch milliseconds
constexpr int64_t kWarmupMs = 60'000;
// Steps at one virtual instant before the run is declared stuck (a core asking for a timeout
// that is already due, forever).
constexpr uint64_t kMaxStepsPerInstant = 200'000;

class World {
 public:
  World(uint64_t seed, bool verbose)
      : rng_(seed),
        trace_(verbose),
        w_(make_workload(rng_, sources_, 0)),
        net_(w_.net, rng_, [this](NodeId n) { return node_up(n); }),
        checker_(w_, device_users(w_), kKey),
        env_{net_, rng_, trace_, checker_, sources_, kKey, seed % 3 == 2},
        chat_(env_),
        resd_(env_) {
    for (int i = 0; i < w_.clients; i++) {
      clients_.push_back(std::make_unique<ClientNode>(env_, i, device_users(w_)[i], i >= w_.users));
    }
    result_.seed = seed;
    checker_.set_disk(&resd_.disk());
  }

  RunResult run();

 private:
  static constexpr const char* kKey = "ferry-sim shared secret key 0123";

  // The user name each client (device) logs in as.
  static std::vector<std::string> device_users(const Workload& w) {
    std::vector<std::string> u;
    for (int i = 0; i < w.clients; i++) u.push_back("user" + std::to_string(w.user_of[i]));
    return u;
  }
  bool node_up(NodeId n) const {
    if (n == kChatNode) return chat_.up();
    if (n == kResdNode) return resd_.up();
    return clients_[n - kFirstClient]->up();
  }
  bool step(int64_t horizon);  // false: nothing left to do before `horizon`
  bool guard();
  bool warm_up();
  void drive();
  void deliver(const NetEvent& e);
  void apply_fault(const FaultPlan& f);
  void restart(NodeId n);
  void submit_due();
  bool fail(const std::string& what);

  Prng rng_;
  Trace trace_;
  Sources sources_;
  Workload w_;
  Network net_;
  Checker checker_;
  Env env_;
  ChatNode chat_;
  ResdNode resd_;
  std::vector<std::unique_ptr<ClientNode>> clients_;

  int64_t now_ = kEpochMs;
  int64_t t0_ = 0;  // end of the warm-up: the plan's times count from here
  bool started_ = false;
  size_t next_fault_ = 0;
  std::vector<bool> text_done_, upload_done_;
  std::vector<std::pair<int64_t, NodeId>> restarts_;  // pending, (when, node)
  int64_t guard_at_ = 0;
  uint64_t guard_steps_ = 0;
  bool idle_ = false;  // the last step() found nothing scheduled at all
  RunResult result_;
};

bool World::fail(const std::string& what) {
  if (result_.ok) {
    result_.ok = false;
    result_.failure = what;
  }
  trace_.line(now_, "FAIL: " + what);
  return false;
}

void World::deliver(const NetEvent& e) {
  if (e.kind != NetEvent::Kind::Data) {
    static const char* const kKinds[] = {"accepted", "connected", "connect failed", "", "closed"};
    std::string who = e.node == kChatNode   ? "chat"
                      : e.node == kResdNode ? "resd"
                                            : "user" + std::to_string(e.node - kFirstClient);
    trace_.line(now_, "net: link " + std::to_string(e.link) + " " +
                          kKinds[static_cast<int>(e.kind)] + " at " + who +
                          (node_up(e.node) ? "" : " (down)"));
  }
  if (e.node == kChatNode) {
    if (chat_.up()) chat_.on_net(e, now_);
  } else if (e.node == kResdNode) {
    if (resd_.up()) resd_.on_net(e, now_);
  } else if (ClientNode& c = *clients_[e.node - kFirstClient]; c.up()) {
    c.on_net(e, now_);
  }
}

void World::restart(NodeId n) {
  if (n == kChatNode) {
    if (!chat_.up()) chat_.start(now_);
  } else if (n == kResdNode) {
    if (!resd_.up()) resd_.start(now_);
  } else if (!clients_[n - kFirstClient]->up()) {
    clients_[n - kFirstClient]->start(now_);
  }
}

void World::apply_fault(const FaultPlan& f) {
  int64_t fault_end = t0_ + w_.fault_end;
  switch (f.kind) {
    case FaultPlan::Kind::Cut: {
      std::vector<LinkId> live = net_.live_links();
      if (live.empty()) return;
      LinkId l = live[f.pick % live.size()];
      trace_.line(now_, "fault: cut link " + std::to_string(l));
      net_.cut(l, now_);
      result_.cuts++;
      return;
    }
    case FaultPlan::Kind::Partition:
    case FaultPlan::Kind::Isolate: {
      NodeId b = f.kind == FaultPlan::Kind::Isolate ? -1 : f.b;
      int64_t until = std::min(now_ + f.duration_ms, fault_end);
      trace_.line(now_, "fault: partition " + std::to_string(f.a) + "/" + std::to_string(b) +
                            " for " + std::to_string(until - now_) + " ms");
      net_.partition(f.a, b, now_, until);
      result_.partitions++;
      return;
    }
    case FaultPlan::Kind::Crash:
      if (!node_up(f.a)) return;
      if (f.a == kChatNode) {
        chat_.crash(f.silent, now_);
      } else if (f.a == kResdNode) {
        resd_.crash(f.silent, now_);
      } else {
        clients_[f.a - kFirstClient]->crash(f.silent, now_);
      }
      restarts_.push_back({now_ + f.duration_ms, f.a});
      result_.crashes++;
      return;
  }
}

void World::submit_due() {
  for (size_t i = 0; i < w_.texts.size(); i++) {
    const TextPlan& t = w_.texts[i];
    ClientNode& c = *clients_[t.from];
    if (text_done_[i] || t0_ + t.at > now_ || !c.up()) continue;
    text_done_[i] = true;
    c.submit_text(t, "user" + std::to_string(t.to), now_);
  }
  for (size_t i = 0; i < w_.uploads.size(); i++) {
    const UploadPlan& u = w_.uploads[i];
    ClientNode& c = *clients_[u.from];
    if (upload_done_[i] || t0_ + u.at > now_ || !c.up()) continue;
    upload_done_[i] = true;
    c.submit_upload(u, "user" + std::to_string(u.to), now_);
  }
}

// Advances the clock to the next thing due (not past `horizon`) and does it.
bool World::step(int64_t horizon) {
  int64_t next = net_.next_time();
  if (chat_.up()) next = std::min(next, chat_.next_timeout());
  if (resd_.up()) next = std::min(next, resd_.next_timeout());
  for (auto& c : clients_) {
    if (c->up()) next = std::min(next, c->next_timeout());
  }
  for (const auto& r : restarts_) next = std::min(next, r.first);
  if (started_) {
    if (next_fault_ < w_.faults.size()) next = std::min(next, t0_ + w_.faults[next_fault_].at);
    for (size_t i = 0; i < w_.texts.size(); i++) {
      // A crashed client's submissions wait for its restart (already a candidate above).
      if (!text_done_[i] && clients_[w_.texts[i].from]->up()) {
        next = std::min(next, std::max(now_, t0_ + w_.texts[i].at));
      }
    }
    for (size_t i = 0; i < w_.uploads.size(); i++) {
      if (!upload_done_[i] && clients_[w_.uploads[i].from]->up()) {
        next = std::min(next, std::max(now_, t0_ + w_.uploads[i].at));
      }
    }
  }
  idle_ = next == kNever;
  if (next > horizon) return false;
  now_ = std::max(now_, next);
  bool faulty = started_ && now_ < t0_ + w_.fault_end;
  resd_.set_disk_error_rate(faulty ? w_.disk_error_rate : 0);

  for (auto it = restarts_.begin(); it != restarts_.end();) {
    if (it->first <= now_) {
      NodeId n = it->second;
      it = restarts_.erase(it);
      restart(n);
    } else {
      ++it;
    }
  }
  while (started_ && next_fault_ < w_.faults.size() && t0_ + w_.faults[next_fault_].at <= now_) {
    apply_fault(w_.faults[next_fault_++]);
  }
  if (started_) submit_due();
  NetEvent e;
  while (net_.pop(now_, e)) deliver(e);
  if (chat_.up() && chat_.next_timeout() <= now_) chat_.on_timer(now_);
  if (resd_.up() && resd_.next_timeout() <= now_) resd_.on_timer(now_);
  for (auto& c : clients_) {
    if (c->up() && c->next_timeout() <= now_) c->on_timer(now_);
  }
  return true;
}

// Steps at one instant are bounded: a core that keeps asking for a timeout already due
// would otherwise spin forever.
bool World::guard() {
  if (now_ != guard_at_) {
    guard_at_ = now_;
    guard_steps_ = 0;
    return true;
  }
  return ++guard_steps_ < kMaxStepsPerInstant;
}

// Every client registered and online, no faults yet.
bool World::warm_up() {
  int64_t end = now_ + kWarmupMs;
  while (!std::all_of(clients_.begin(), clients_.end(),
                      [](const auto& c) { return c->authenticated(); })) {
    // A second device can only log in once its user is registered.
    for (int i = w_.users; i < w_.clients; i++) {
      if (!clients_[i]->up() && clients_[w_.user_of[i]]->authenticated()) {
        clients_[i]->start(now_);
      }
    }
    if (!step(end)) return fail("warm-up: the clients did not all register in time");
    if (!guard()) return fail("stuck at one instant during warm-up");
  }
  return true;
}

// The fault window and the quiet phase: done by kLivenessMs after the last fault or restart.
void World::drive() {
  t0_ = now_;
  started_ = true;
  trace_.line(now_, "faults start; they stop at +" + std::to_string(w_.fault_end) + " ms");
  auto all = [](const std::vector<bool>& v) {
    return std::all_of(v.begin(), v.end(), [](bool b) { return b; });
  };
  while (checker_.violations().empty()) {
    int64_t quiet_from = t0_ + w_.fault_end;
    for (const auto& r : restarts_) quiet_from = std::max(quiet_from, r.first);
    if (all(text_done_) && all(upload_done_) && checker_.all_done()) {
      result_.settle_ms = std::max<int64_t>(0, now_ - quiet_from);
      return;
    }
    if (!step(quiet_from + kLivenessMs)) {
      fail(idle_ ? "stuck: nothing left to happen, but not done: " + checker_.pending_summary()
                 : "liveness: not done " + std::to_string(kLivenessMs / 1000) +
                       " s after faults stopped: " + checker_.pending_summary());
      return;
    }
    if (!guard()) {
      fail("stuck: over " + std::to_string(kMaxStepsPerInstant) + " steps at one instant");
      return;
    }
  }
}

RunResult World::run() {
  text_done_.assign(w_.texts.size(), false);
  upload_done_.assign(w_.uploads.size(), false);
  chat_.start(now_);
  resd_.start(now_);
  for (int i = 0; i < w_.users; i++) clients_[i]->start(now_);
  if (warm_up()) drive();
  if (checker_.violations().empty() && result_.ok) {
    checker_.final_check(chat_.store(), resd_.disk(), sources_);
  }
  if (!checker_.violations().empty()) {
    std::string all;
    for (const std::string& v : checker_.violations()) all += (all.empty() ? "" : "; ") + v;
    result_.ok = true;  // the checker's list is the better message: replace the first one
    fail(all);
  }
  result_.messages = w_.texts.size() + w_.uploads.size();
  result_.uploads = w_.uploads.size();
  for (const UploadPlan& u : w_.uploads) result_.upload_bytes += u.size;
  result_.chunks = checker_.chunks_acked();
  result_.own_upload_returns = checker_.own_upload_returns();
  result_.extra_lanes = checker_.extra_lanes();
  result_.virtual_ms = now_ - kEpochMs;
  trace_.line(now_, result_.ok ? "run ok" : "run failed");
  result_.trace_hash = trace_.hash();
  return result_;
}

}  // namespace

RunResult run_seed(uint64_t seed, bool verbose) {
  World w(seed, verbose);
  return w.run();
}

}  // namespace ferry::sim
