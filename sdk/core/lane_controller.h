// LaneController: how many connections ("lanes") to the resource server the uploads should
// use, from the goodput they actually get. Sans-I/O: the UploadManager feeds it durable bytes,
// the time and the lanes that are up; it answers with a target lane count.
//
// Why: one TCP stream is capped by loss and round-trip time (Reno/CUBIC: ~MSS/(RTT*sqrt(p)),
// and by the per-socket buffer under BBR), so on a bad link several connections carry more.
// On a clean loopback the disk is the bound and extra lanes only add work, so nothing is
// assumed: every extra lane must prove itself.
//
// The loop: start with 1 lane and measure goodput (durable bytes per ms) over an interval of
// a few smoothed RTTs, at least min_interval_ms. While there is enough work left (at least
// min_waiting_chunks unsent), probe: ask for one more lane, wait until it is up, measure
// again. Goodput rose by at least keep_gain: keep the lane and probe again at once. It did
// not: close the newest lane and wait before the next probe, doubling the wait after each
// failed probe (backoff_min_ms .. backoff_max_ms). A lane that fails to come up counts as a
// failed probe. Never above max_lanes, never below 1.
#pragma once

#include <cstdint>
#include <optional>

namespace ferry::sdk {

struct LaneControllerConfig {
  uint32_t max_lanes = 8;
  uint64_t min_interval_ms = 500;  // a measurement lasts at least this long
  uint32_t interval_rtts = 4;  // ... and at least this many smoothed RTTs
  double keep_gain = 0.15;  // a probe lane stays if goodput rose by this fraction
  uint64_t backoff_min_ms = 2000;  // wait after the first failed probe
  uint64_t backoff_max_ms = 60000;
  uint64_t min_waiting_chunks = 8;  // probe only while this much is left to send
  // ... and until this many chunks became durable (goodput moves in whole chunks: on a slow
  // link 500 ms may see none), unless max_interval_ms passed.
  uint32_t min_interval_chunks = 4;
  uint64_t max_interval_ms = 10000;
  uint64_t lane_up_timeout_ms = 5000;  // a probe lane not up by then has failed
};

class LaneController {
 public:
  explicit LaneController(LaneControllerConfig config = {});

  // Bytes that became durable on the server (any upload, any lane).
  void on_durable(uint64_t bytes) { durable_ += bytes; }
  // Every lane went away (the primary connection dropped or uploads ended): back to 1 lane,
  // and the probing state starts over (the backoff is kept: the link has not changed).
  void reset(uint64_t now_ms);
  // A lane the controller asked for could not be established.
  void on_lane_failed(uint64_t now_ms);

  struct Inputs {
    uint32_t lanes_up = 1;  // lanes that completed their greeting
    uint64_t srtt_ms = 0;  // round trip of the primary lane (its smallest sample), 0 = unknown
    uint64_t waiting_chunks = 0;  // chunks not yet durable, over every upload
    uint32_t chunk_bytes = 0;  // the uploads' chunk size (0 = unknown)
  };
  // Re-evaluates; call after inputs changed or when poll_timeout() is due.
  void tick(uint64_t now_ms, const Inputs& in);
  // The lane count wanted now: the adapter opens lanes below it and closes the newest above.
  uint32_t target() const { return target_; }
  std::optional<uint64_t> poll_timeout() const;

  // Introspection (tests, stats).
  uint32_t probes() const { return probes_; }
  uint32_t kept() const { return kept_; }
  uint64_t backoff_ms() const { return backoff_ms_; }
  bool probing() const { return state_ == State::Probing || state_ == State::WaitLane; }

 private:
  enum class State { Measure, WaitLane, Probing };
  void start_interval(uint64_t now_ms, uint64_t srtt_ms);
  bool interval_done(uint64_t now_ms, const Inputs& in) const;
  void give_up_probe(uint64_t now_ms);
  bool start_probe(uint64_t now_ms, const Inputs& in);

  LaneControllerConfig config_;
  State state_ = State::Measure;
  uint32_t target_ = 1;
  uint64_t durable_ = 0;  // running total
  uint64_t interval_start_ms_ = 0;
  uint64_t interval_end_ms_ = 0;
  uint64_t interval_bytes_ = 0;  // durable_ at the interval start
  uint64_t want_bytes_ = 0;  // durable bytes an interval needs (from the last tick)
  bool started_ = false;
  double baseline_ = -1;  // goodput (bytes/ms) with target_ lanes; < 0 = not measured yet
  uint64_t next_probe_ms_ = 0;
  uint64_t backoff_ms_;
  uint64_t wait_lane_until_ = 0;
  uint32_t probes_ = 0;
  uint32_t kept_ = 0;
};

}  // namespace ferry::sdk
