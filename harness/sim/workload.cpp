// Draws a run's workload and fault schedule (see workload.h).
#include "harness/sim/workload.h"

#include <algorithm>

namespace ferry::sim {

namespace {

constexpr uint64_t kChunk = 1u << 20;  // resd's chunk size for files under 1 GiB

uint64_t file_size(Prng& rng) {
  switch (rng.range(0, 8)) {
    case 8:
      return rng.range(4 * kChunk, 8 * kChunk);  // the most chunks, rarely (CPU)
    case 0:
      return 0;
    case 1:
      return rng.range(1, 4096);
    case 2:
      return kChunk;
    case 3:
      return kChunk + rng.pick<uint64_t>({1, kChunk - 1});
    case 4:
      return kChunk - 1;
    default:
      return rng.range(1, 3 * kChunk + kChunk / 2);
  }
}

std::string random_bytes(Prng& rng, uint64_t n) {
  std::string s(n, '\0');
  for (uint64_t i = 0; i < n; i += 8) {
    uint64_t v = rng.next();
    for (uint64_t k = 0; k < 8 && i + k < n; k++) s[i + k] = static_cast<char>(v >> (8 * k));
  }
  return s;
}

std::string random_text(Prng& rng, uint64_t n) {
  // Mostly letters, with the characters JSON must escape mixed in.
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz ABC\"\\/\n\t{}";
  std::string s;
  for (uint64_t i = 0; i < n; i++) s += kAlphabet[rng.range(0, sizeof kAlphabet - 2)];
  return s;
}

// The chat server wants 8-64 characters of [A-Za-z0-9_-].
std::string cid(const char* kind, uint64_t i) {
  std::string n = std::to_string(i);
  return std::string(kind) + "-" + std::string(n.size() < 4 ? 4 - n.size() : 0, '0') + n;
}

// A sending device and a receiving user other than the device's own.
std::pair<int, int> pair_of(Prng& rng, const Workload& w) {
  int from = static_cast<int>(rng.range(0, w.clients - 1));
  int to = static_cast<int>(rng.range(0, w.users - 2));
  if (to >= w.user_of[from]) to++;
  return {from, to};
}

void add_faults(Prng& rng, Workload& w, int64_t start) {
  int nodes = kFirstClient + w.clients;
  int64_t span = w.fault_end - w.fault_start;
  auto when = [&] { return start + w.fault_start + static_cast<int64_t>(rng.range(0, span - 1)); };
  uint64_t cuts = rng.pick<uint64_t>({0, 1, 3, 10});
  for (uint64_t i = 0; i < cuts; i++) {
    FaultPlan f;
    f.kind = FaultPlan::Kind::Cut;
    f.at = when();
    f.pick = rng.next();
    w.faults.push_back(f);
  }
  uint64_t parts = rng.pick<uint64_t>({0, 0, 1, 3});
  for (uint64_t i = 0; i < parts; i++) {
    FaultPlan f;
    f.kind = rng.chance(0.3) ? FaultPlan::Kind::Isolate : FaultPlan::Kind::Partition;
    f.at = when();
    f.duration_ms = static_cast<int64_t>(rng.pick<uint64_t>({300, 2000, 15000, 45000}));
    f.a = static_cast<NodeId>(rng.range(0, nodes - 1));
    f.b = static_cast<NodeId>(rng.range(0, nodes - 2));
    if (f.b >= f.a) f.b++;
    w.faults.push_back(f);
  }
  uint64_t crashes = rng.pick<uint64_t>({0, 1, 2, 4});
  for (uint64_t i = 0; i < crashes; i++) {
    FaultPlan f;
    f.kind = FaultPlan::Kind::Crash;
    f.at = when();
    f.duration_ms = static_cast<int64_t>(rng.range(50, 8000));
    f.a = static_cast<NodeId>(rng.range(0, nodes - 1));
    f.silent = rng.chance(0.3);
    w.faults.push_back(f);
  }
  // Uploads finish in seconds, so crashes at random times seldom land inside one: aim some
  // at the resource server or the uploading client while the upload runs.
  for (const UploadPlan& u : w.uploads) {
    if (!rng.chance(0.5) || u.at >= w.fault_end) continue;
    FaultPlan f;
    f.kind = FaultPlan::Kind::Crash;
    f.at = start + std::min(u.at + static_cast<int64_t>(rng.range(0, 3000)), w.fault_end - 1);
    f.duration_ms = static_cast<int64_t>(rng.range(50, 5000));
    f.a = rng.chance(0.6) ? kResdNode : kFirstClient + u.from;
    f.silent = rng.chance(0.3);
    w.faults.push_back(f);
  }
  std::stable_sort(w.faults.begin(), w.faults.end(),
                   [](const FaultPlan& x, const FaultPlan& y) { return x.at < y.at; });
}

}  // namespace

Workload make_workload(Prng& rng, Sources& sources, int64_t start) {
  Workload w;
  w.users = static_cast<int>(rng.range(2, 3));
  for (int u = 0; u < w.users; u++) w.user_of.push_back(u);
  // A second device of user 0: pushes to the user's other sessions, and messages "sent by
  // this user from another device", get exercised too.
  if (rng.chance(0.4)) w.user_of.push_back(0);
  w.clients = static_cast<int>(w.user_of.size());
  w.net.latency_ms = static_cast<int64_t>(rng.range(1, 40));
  w.net.jitter_ms = static_cast<int64_t>(rng.pick<uint64_t>({0, 5, 50}));
  w.net.bytes_per_ms = static_cast<int64_t>(rng.pick<uint64_t>({300, 1000, 10000, 100000}));
  w.fault_start = 0;  // relative to the end of the warm-up (see World)
  w.fault_end = static_cast<int64_t>(rng.range(2000, 60000));
  int64_t span = w.fault_end + 5000;  // submissions may also fall just after the faults
  uint64_t texts = rng.range(1, 30);
  for (uint64_t i = 0; i < texts; i++) {
    TextPlan t;
    t.at = start + static_cast<int64_t>(rng.range(0, span));
    std::tie(t.from, t.to) = pair_of(rng, w);
    t.cid = cid("text", i);
    t.text = random_text(rng, rng.range(1, 120));  // chatd wants 1..65536 bytes
    w.texts.push_back(t);
  }
  uint64_t uploads = rng.range(0, 3);
  for (uint64_t i = 0; i < uploads; i++) {
    UploadPlan u;
    u.at = start + static_cast<int64_t>(rng.range(0, span));
    std::tie(u.from, u.to) = pair_of(rng, w);
    u.cid = cid("file", i);
    u.size = file_size(rng);
    u.sha256 = sources.add(random_bytes(rng, u.size));
    w.uploads.push_back(u);
  }
  w.disk_error_rate = rng.pick<double>({0, 0, 0.02, 0.1});
  add_faults(rng, w, start);
  return w;
}

}  // namespace ferry::sim
