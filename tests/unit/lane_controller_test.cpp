// Proves the adaptive lane count: it starts at one lane (two on a long path, never on
// loopback), probes more only while enough work waits, doubles the lanes while each probe
// pays and halves the step after one that did not, closes lanes that did not pay and backs
// off exponentially, judges a probe only after its new lanes' first chunk could arrive,
// treats a lane that never comes up as a failed probe, ignores the failure of a lane that was
// surplus, respects max_lanes, and never probes with max_lanes 1. On a slow link whose
// goodput moves in whole 1 MiB chunks, it reaches 8 lanes in a bounded virtual time; it
// never probes when the proven lanes would finish the work before a probe could be judged.
// How: drive LaneController with a virtual clock and a made-up goodput per lane count
// (continuous, or per-lane chunk acks with a dial and a first-chunk delay).
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "sdk/core/lane_controller.h"

using namespace ferry::sdk;

namespace {

struct Sim {
  LaneController c;
  uint64_t now = 0;
  uint32_t up = 1;  // lanes established: follows the target at once unless told otherwise
  bool follow = true;
  std::function<uint64_t(uint32_t)> bytes_per_ms;  // goodput for a lane count

  explicit Sim(LaneControllerConfig cfg, std::function<uint64_t(uint32_t)> g)
      : c(cfg), bytes_per_ms(std::move(g)) {}
  // Advances `ms` in 10 ms steps with plenty of chunks waiting.
  void advance(uint64_t ms, uint64_t waiting = 1000) {
    for (uint64_t t = 0; t < ms; t += 10) {
      now += 10;
      c.on_durable(bytes_per_ms(up) * 10);
      c.tick(now, {up, 40, waiting});
      if (follow) up = c.target();
    }
  }
};

LaneControllerConfig cfg(uint32_t max = 8) {
  LaneControllerConfig c;
  c.max_lanes = max;
  c.min_interval_ms = 500;
  c.backoff_min_ms = 2000;
  c.backoff_max_ms = 16000;
  // The tests below run at 40 ms, where the default starts with very_long_path_lanes; they
  // are about the long-path start and the probes after it (the wider start has its own test).
  c.very_long_path_rtt_ms = 0;
  return c;
}

}  // namespace

TEST(lane_controller, grows_while_each_lane_pays_up_to_the_cap) {
  Sim r(cfg(4), [](uint32_t n) { return uint64_t{1000} * n; });  // linear: every lane pays
  EXPECT_EQ(r.c.target(), 1u);
  r.advance(10000);
  EXPECT_EQ(r.c.target(), 4u);
  EXPECT_EQ(r.c.kept(), 2u);  // 1 -> 2 -> 4
  EXPECT_EQ(r.c.probes(), 2u);
}

TEST(lane_controller, doubles_the_lanes_while_probes_pay) {
  Sim r(cfg(8), [](uint32_t n) { return uint64_t{1000} * n; });
  std::vector<uint32_t> seen{r.c.target()};
  for (int i = 0; i < 1000; i++) {
    r.advance(10);
    if (r.c.target() != seen.back()) seen.push_back(r.c.target());
  }
  EXPECT_EQ(seen, (std::vector<uint32_t>{1, 2, 4, 8}));
  EXPECT_EQ(r.c.kept(), 3u);
}

TEST(lane_controller, a_failed_doubling_falls_back_and_halves_the_step) {
  // Up to 4 lanes every lane pays; beyond that nothing more.
  Sim r(cfg(8), [](uint32_t n) { return uint64_t{1000} * std::min<uint32_t>(n, 4); });
  std::vector<uint32_t> seen{r.c.target()};
  for (int i = 0; i < 3000; i++) {  // 30 s
    r.advance(10);
    if (r.c.target() != seen.back()) seen.push_back(r.c.target());
  }
  // 1, 2, 4, 8 (fails), 4, then +2 (fails), 4, then +1 (fails), 4, ...
  ASSERT_GE(seen.size(), 8u);
  EXPECT_EQ((std::vector<uint32_t>(seen.begin(), seen.begin() + 8)),
            (std::vector<uint32_t>{1, 2, 4, 8, 4, 6, 4, 5}));
  EXPECT_EQ(r.c.probing() ? r.c.target() - r.c.step() : r.c.target(), 4u);
  EXPECT_EQ(r.c.kept(), 2u);
}

TEST(lane_controller, stays_at_one_lane_when_lanes_do_not_help) {
  Sim r(cfg(), [](uint32_t) { return uint64_t{1000}; });  // flat: a disk-bound loopback
  r.advance(1200);  // baseline 500 ms, then the first probe
  EXPECT_EQ(r.c.probes(), 1u);
  r.advance(600);  // the probe fails
  EXPECT_EQ(r.c.target(), 1u);
  EXPECT_EQ(r.c.kept(), 0u);
  // Backoff: 2 s before the next probe, then 4 s, then 8 s.
  uint32_t probes = r.c.probes();
  r.advance(1000);  // the probe failed at ~1020 ms: no new one before ~3020 ms
  EXPECT_EQ(r.c.probes(), probes);
  r.advance(30000);
  EXPECT_LE(r.c.probes(), 5u);  // 2 + 4 + 8 + 16 s (capped) apart, plus the intervals
  EXPECT_GE(r.c.probes(), 3u);
  EXPECT_EQ(r.c.probing() ? r.c.target() - 1 : r.c.target(), 1u);
  EXPECT_EQ(r.c.backoff_ms(), 16000u);
}

TEST(lane_controller, keeps_the_count_where_gains_stop) {
  // Two lanes double goodput, a third adds under 15%.
  Sim r(cfg(), [](uint32_t n) { return n >= 2 ? uint64_t{2000} + (n - 2) * 100 : 1000; });
  r.advance(20000);
  // Later probes of a third lane fail (and may be running right now).
  EXPECT_EQ(r.c.probing() ? r.c.target() - 1 : r.c.target(), 2u);
  EXPECT_EQ(r.c.kept(), 1u);
  EXPECT_GE(r.c.probes(), 3u);
}

TEST(lane_controller, no_probe_without_enough_waiting_work) {
  Sim r(cfg(), [](uint32_t n) { return uint64_t{1000} * n; });
  r.advance(5000, /*waiting=*/3);
  EXPECT_EQ(r.c.probes(), 0u);
  EXPECT_EQ(r.c.target(), 1u);
}

TEST(lane_controller, a_lane_that_never_comes_up_is_a_failed_probe) {
  Sim r(cfg(), [](uint32_t n) { return uint64_t{1000} * n; });
  r.follow = false;  // the adapter never gets the lane up
  r.advance(600);
  EXPECT_EQ(r.c.target(), 2u);
  EXPECT_TRUE(r.c.probing());
  r.advance(6000);  // lane_up_timeout_ms = 5 s
  EXPECT_EQ(r.c.target(), 1u);
  EXPECT_EQ(r.c.kept(), 0u);
}

TEST(lane_controller, a_failed_lane_lowers_the_target_and_reset_starts_over) {
  Sim r(cfg(), [](uint32_t n) { return uint64_t{1000} * n; });
  r.advance(3000);
  uint32_t t = r.c.target();
  ASSERT_GE(t, 3u);
  r.c.on_lane_failed(r.now);
  EXPECT_EQ(r.c.target(), t - 1);
  r.c.reset(r.now);
  EXPECT_EQ(r.c.target(), 1u);
  EXPECT_FALSE(r.c.probing());
}

TEST(lane_controller, max_lanes_one_never_probes) {
  Sim r(cfg(1), [](uint32_t n) { return uint64_t{1000} * n; });
  r.advance(10000);
  EXPECT_EQ(r.c.target(), 1u);
  EXPECT_EQ(r.c.probes(), 0u);
  EXPECT_FALSE(r.c.poll_timeout().has_value());
}

TEST(lane_controller, a_long_path_starts_with_four_lanes) {
  Sim r(cfg(), [](uint32_t n) { return uint64_t{1000} * n; });
  r.c.on_path_rtt(40);
  r.c.on_path_rtt(45);  // the smallest sample counts
  EXPECT_EQ(r.c.path_rtt_ms(), std::optional<uint64_t>(40));
  r.advance(10);
  EXPECT_EQ(r.c.target(), 4u);
  EXPECT_EQ(r.c.probes(), 0u);  // not a probe: the start, nothing to fall back to below it
  // The start is configurable, and never above max_lanes.
  LaneControllerConfig two = cfg();
  two.long_path_lanes = 2;
  Sim t(two, [](uint32_t n) { return uint64_t{1000} * n; });
  t.c.on_path_rtt(40);
  t.advance(10);
  EXPECT_EQ(t.c.target(), 2u);
  Sim u(cfg(3), [](uint32_t n) { return uint64_t{1000} * n; });
  u.c.on_path_rtt(40);
  u.advance(10);
  EXPECT_EQ(u.c.target(), 3u);
  // Not while there is too little work: that upload would end before the lane pays.
  Sim s(cfg(), [](uint32_t n) { return uint64_t{1000} * n; });
  s.c.on_path_rtt(40);
  s.advance(100, /*waiting=*/3);
  EXPECT_EQ(s.c.target(), 1u);
}

TEST(lane_controller, a_very_long_path_starts_wider) {
  LaneControllerConfig c = cfg(16);
  c.very_long_path_rtt_ms = 25;
  c.very_long_path_lanes = 12;
  // 20 ms: a long path, not a very long one.
  Sim a(c, [](uint32_t n) { return uint64_t{1000} * n; });
  a.c.on_path_rtt(20);
  a.advance(10);
  EXPECT_EQ(a.c.target(), 4u);
  // 25 ms and more: twelve, still not a probe.
  Sim b(c, [](uint32_t n) { return uint64_t{1000} * n; });
  b.c.on_path_rtt(25);
  b.advance(10);
  EXPECT_EQ(b.c.target(), 12u);
  EXPECT_EQ(b.c.probes(), 0u);
  // Never above max_lanes.
  c.max_lanes = 8;
  Sim d(c, [](uint32_t n) { return uint64_t{1000} * n; });
  d.c.on_path_rtt(100);
  d.advance(10);
  EXPECT_EQ(d.c.target(), 8u);
  // The defaults: 4 from 10 ms, 12 from 25 ms.
  LaneControllerConfig def;
  EXPECT_EQ(def.long_path_rtt_ms, 10u);
  EXPECT_EQ(def.very_long_path_rtt_ms, 25u);
  EXPECT_EQ(def.very_long_path_lanes, 12u);
}

TEST(lane_controller, loopback_starts_with_one_lane_and_measures_first) {
  Sim r(cfg(), [](uint32_t n) { return uint64_t{1000} * n; });
  r.c.on_path_rtt(0);  // under a millisecond
  r.advance(400);  // less than one interval: no probe yet
  EXPECT_EQ(r.c.target(), 1u);
  EXPECT_EQ(r.c.probes(), 0u);
  r.advance(200);  // the 1-lane interval ended: now the probe
  EXPECT_EQ(r.c.probes(), 1u);
  EXPECT_EQ(r.c.target(), 2u);
}

TEST(lane_controller, the_failure_of_a_surplus_lane_changes_nothing) {
  Sim r(cfg(), [](uint32_t n) { return uint64_t{1000} * n; });
  r.advance(1200);  // 2 lanes kept or being probed onwards
  ASSERT_GE(r.c.target(), 2u);
  uint32_t t = r.c.target();
  uint32_t probes = r.c.probes();
  r.c.on_lane_failed(r.now, t);  // lane t was being closed anyway
  r.c.on_lane_failed(r.now, 0);  // lane 0 is the primary's business
  EXPECT_EQ(r.c.target(), t);
  EXPECT_EQ(r.c.probes(), probes);
}

TEST(lane_controller, a_probe_lane_that_fails_ends_the_probe) {
  Sim r(cfg(), [](uint32_t n) { return uint64_t{1000} * n; });
  r.follow = false;
  r.advance(600);  // baseline with 1 lane, then the probe asks for 2
  ASSERT_TRUE(r.c.probing());
  ASSERT_EQ(r.c.target(), 2u);
  r.c.on_lane_failed(r.now, 1);
  EXPECT_FALSE(r.c.probing());
  EXPECT_EQ(r.c.target(), 1u);
  EXPECT_EQ(r.c.backoff_ms(), 4000u);  // the next failure waits twice as long
}

namespace {

// A slow lossy link as Reno sees it: each lane carries `per_lane` bytes/ms (capped in
// total by `cap`), and acks arrive chunk by chunk. A lane is up 2 round trips after it is
// asked for (connect, HELLO) and its first chunk is acked a chunk time and a round trip
// after that.
struct ChunkSim {
  LaneController c;
  uint64_t now = 0;
  uint64_t rtt = 40;
  uint32_t chunk = 1u << 20;
  double per_lane;
  double cap;
  struct Lane {
    uint64_t up_at;
    double sent = 0;  // bytes of the current chunk through the link
  };
  std::vector<Lane> lanes;
  uint64_t delivered = 0;
  uint64_t file_chunks = UINT64_MAX;  // the work: chunks that must become durable

  ChunkSim(LaneControllerConfig cfg, double per_lane_, double cap_)
      : c(cfg), per_lane(per_lane_), cap(cap_) {
    c.on_path_rtt(rtt);
  }
  void advance(uint64_t ms) {
    for (uint64_t t = 0; t < ms; t += 10) {
      now += 10;
      while (lanes.size() > c.target()) lanes.pop_back();
      while (lanes.size() < c.target()) lanes.push_back({lanes.empty() ? now : now + 2 * rtt});
      uint32_t up = 0;
      for (auto& l : lanes) up += l.up_at <= now;
      double rate = std::min(per_lane, cap / std::max(1u, up));
      for (auto& l : lanes) {
        if (l.up_at + rtt > now) continue;  // a round trip before the first bytes are acked
        l.sent += rate * 10;
        for (; l.sent >= chunk && delivered / chunk < file_chunks; l.sent -= chunk) {
          c.on_durable(chunk);
          delivered += chunk;
        }
      }
      uint64_t waiting = file_chunks == UINT64_MAX ? 1000 : file_chunks - delivered / chunk;
      c.tick(now, {up, 0, waiting, chunk});
    }
  }
};

}  // namespace

TEST(lane_controller, a_slow_lossy_link_gets_eight_lanes_within_seconds) {
  // 0.4 MB/s per stream (Reno at 40 ms and 1% loss): one chunk per 2.6 s per lane.
  ChunkSim r(cfg(8), 400, 1e9);
  uint64_t reached = 0;
  while (r.now < 120000 && reached == 0) {
    r.advance(10);
    if (r.c.target() == 8 && !r.c.probing()) reached = r.now;
  }
  ASSERT_NE(reached, 0u);
  // Start at 4, baseline, 4 -> 8, judged on 2 chunks per lane after the new lanes' first
  // ack: about 18 s of the link's time (from 2 lanes it took 29 s).
  EXPECT_LE(reached, 20000u);
  EXPECT_EQ(r.c.kept(), 1u);
}

TEST(lane_controller, a_capped_link_keeps_the_lanes_that_fill_it) {
  // The link carries two streams' worth; more lanes only share it. From 1 lane (no long-path
  // start) or a start of 2, probes find the two that fill it and stop there.
  struct Start {
    uint64_t long_path_rtt_ms;
    uint32_t long_path_lanes;
    uint32_t kept;  // 1 -> 2 pays from one lane; nothing pays from two
  };
  for (Start st : {Start{0, 4, 1}, Start{10, 2, 0}}) {
    LaneControllerConfig c = cfg(8);
    c.long_path_rtt_ms = st.long_path_rtt_ms;
    c.long_path_lanes = st.long_path_lanes;
    ChunkSim s(c, 400, 800);
    s.advance(180000);
    EXPECT_EQ(s.c.probing() ? s.c.target() - s.c.step() : s.c.target(), 2u);
    EXPECT_EQ(s.c.kept(), st.kept);
    EXPECT_GE(s.c.probes(), 2u);
  }
  // From the long-path start of 4 the link is full from the first second and never drops
  // below the start (a start is not measured against fewer lanes). Probes beyond it are
  // judged on whole chunks, one per lane every few seconds here, so at 6+ lanes a 15% "gain"
  // can be noise and keep a lane that only shares the cap: more connections, never less
  // throughput.
  ChunkSim r(cfg(8), 400, 800);
  uint32_t lowest = UINT32_MAX;
  for (int i = 0; i < 1800; i++) {
    r.advance(100);
    lowest = std::min(lowest, r.c.target());
  }
  EXPECT_EQ(lowest, 4u);
  EXPECT_GE(r.c.probes(), 1u);
  EXPECT_GE(static_cast<double>(r.delivered), 0.9 * 800 * 180000);
}

TEST(lane_controller, no_probe_the_proven_lanes_would_outrun) {
  // 128 MiB at 30 MB/s per lane from the long-path start of 4: ~1.1 s of work. When the
  // baseline is measured about half is left, less than a probe's warm-up and interval would
  // take. New lanes in slow start would only take the last chunks and deliver them late, so
  // the count stays at 4 to the end.
  ChunkSim fast(cfg(8), 30000, 1e9);
  fast.file_chunks = 128;
  uint32_t most = 0;
  while (fast.delivered < 128ull * fast.chunk && fast.now < 60000) {
    fast.advance(10);
    most = std::max(most, fast.c.target());
  }
  EXPECT_EQ(fast.delivered, 128ull * fast.chunk);
  EXPECT_EQ(most, 4u);
  EXPECT_EQ(fast.c.probes(), 0u);
  // The same link with 1 GiB to go: plenty of time for a probe to pay, and it does.
  ChunkSim big(cfg(8), 30000, 1e9);
  big.file_chunks = 1024;
  big.advance(3000);
  EXPECT_GE(big.c.probes(), 1u);
  EXPECT_EQ(big.c.kept(), 1u);
  // A slow link (0.4 MB/s per lane) with the same 64 MiB: ~40 s of work, so it probes.
  ChunkSim slow(cfg(8), 400, 1e9);
  slow.file_chunks = 64;
  slow.advance(30000);
  EXPECT_GE(slow.c.probes(), 1u);
}
