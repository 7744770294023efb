// Proves the adaptive lane count: it starts at one lane, probes one more only while enough
// work waits, keeps a lane that raised goodput by the margin and probes again, closes one
// that did not and backs off exponentially, treats a lane that never comes up as a failed
// probe, respects max_lanes, and never probes with max_lanes 1.
// How: drive LaneController with a virtual clock and a made-up goodput per lane count.
#include <gtest/gtest.h>

#include <functional>

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
  return c;
}

}  // namespace

TEST(lane_controller, grows_while_each_lane_pays_up_to_the_cap) {
  Sim r(cfg(4), [](uint32_t n) { return uint64_t{1000} * n; });  // linear: every lane pays
  EXPECT_EQ(r.c.target(), 1u);
  r.advance(10000);
  EXPECT_EQ(r.c.target(), 4u);
  EXPECT_EQ(r.c.kept(), 3u);
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
