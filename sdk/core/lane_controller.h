// LaneController: how many connections ("lanes") to the resource server the uploads should
// use, from the goodput they actually get. Sans-I/O: the UploadManager feeds it durable bytes,
// the path's round trip, the time and the lanes that are up; it answers with a target lane
// count.
//
// Why: one TCP stream is capped by loss and round-trip time (Reno/CUBIC: ~MSS/(RTT*sqrt(p)),
// and by the per-socket buffer under BBR), so on a bad link several connections carry more.
// On a clean loopback the disk is the bound and extra lanes only add work, so nothing is
// assumed there: every extra lane must prove itself.
//
// The loop: start with 1 lane (long_path_lanes, 4, when the path's round trip -- the first
// connection's TCP handshake, or its greeting -- says the path is long, at least
// long_path_rtt_ms: one loss-bound stream is then the rule, and waiting for a slow link to
// prove it costs many seconds; very_long_path_lanes, 12, from very_long_path_rtt_ms) and
// measure goodput. While there is
// enough work left (at least min_waiting_chunks unsent, and at the measured goodput at least
// twice what the probe's warm-up and interval take), probe: ask for more lanes, wait until they
// are up, measure again. Goodput rose by at least keep_gain: keep them and probe again at once. It
// did not: close them and wait before the next probe, doubling the wait after each failed
// probe (backoff_min_ms .. backoff_max_ms). A probe adds as many lanes as there are (1 -> 2
// -> 4 -> 8) while probes pay; a failed probe halves the next step, so the count converges
// like a binary search. A lane that fails to come up counts as a failed probe. Never above
// max_lanes, never below 1.
//
// Measuring on a slow link: goodput only moves in whole chunks (1 MiB), one every few seconds
// per lane at 0.4 MB/s. So an interval opens and closes on an ack (bytes counted strictly
// between those two instants, so no partial chunk is counted or missed), lasts at least
// min_interval_ms and interval_rtts round trips of the path, and spans at least
// min_interval_chunks chunks per lane (lanes opened together ack in step: fewer would catch
// a burst or a gap) unless max_interval_ms passed. After a probe the new lanes need
// the time of one chunk at one lane's share before their first ack: the interval opens only
// after that warm-up, or it would measure the old lanes alone.
#pragma once

#include <cstdint>
#include <optional>

namespace ferry::sdk {

struct LaneControllerConfig {
  uint32_t max_lanes = 8;
  uint64_t min_interval_ms = 500;  // a measurement lasts at least this long
  uint32_t interval_rtts = 4;  // ... and at least this many round trips of the path
  double keep_gain = 0.15;  // probe lanes stay if goodput rose by this fraction
  uint64_t backoff_min_ms = 2000;  // wait after the first failed probe
  uint64_t backoff_max_ms = 60000;
  uint64_t min_waiting_chunks = 8;  // probe only while this much is left to send
  // ... and until this many chunks per lane became durable, unless max_interval_ms passed
  // (after the warm-up).
  uint32_t min_interval_chunks = 2;
  uint64_t max_interval_ms = 10000;
  uint64_t lane_up_timeout_ms = 5000;  // probe lanes not up by then have failed
  // A greeting round trip at least this long starts with long_path_lanes lanes. Loopback and
  // LANs answer in well under a millisecond; 0 = never.
  uint64_t long_path_rtt_ms = 10;
  // Four, not two: through ferry-link at 40 ms round trip and 1% loss, `ferry send-file` of
  // 64 MiB took 1.9-2.1 s starting from 2 lanes (the probe to 4 came at 40% of the file) and
  // 1.35-1.7 s from 4 under BBR; 16 MiB under Reno 14-18 s and 10.3-10.9 s. Eight did not
  // beat four there (1.5-2.0 s under BBR: more connections in slow start at once). As with
  // browsers' six connections per host, it is a start: probes go on up to max_lanes, and a
  // probe that does not pay falls back to the count that did (never below the start).
  uint32_t long_path_lanes = 4;
  // A greeting round trip at least this long starts with very_long_path_lanes instead (0 =
  // never). TCP slow start costs round trips, so the longer the path, the more a wider start
  // pays: through ferry-link with 1% loss, `send-file` of 64 MiB from 12 lanes against 4 took
  // 2.6 s against 3.7 s at 100 ms round trip and 1.03-1.12 s against 1.19-1.26 s at 40 ms;
  // at 20 ms it made no difference (0.74 / 0.77 s) and at 10 ms it lost (0.52 / 0.39 s).
  uint64_t very_long_path_rtt_ms = 25;
  uint32_t very_long_path_lanes = 12;
};

class LaneController {
 public:
  explicit LaneController(LaneControllerConfig config = {});

  // Bytes that became durable on the server (any upload, any lane).
  void on_durable(uint64_t bytes) { durable_ += bytes; }
  // A round trip of the path without data queued ahead (a connection's TCP handshake, or
  // HELLO -> server HELLO on a fresh connection). The smallest sample is kept, also across
  // reset(): the path has not changed.
  void on_path_rtt(uint64_t rtt_ms);
  // Every lane went away (the primary connection dropped or uploads ended): back to 1 lane,
  // and the probing state starts over (the backoff is kept: the link has not changed).
  void reset(uint64_t now_ms);
  // Lane `lane` (1..; lane 0 is the primary) could not be established, or died. A lane
  // numbered at or above target() was being closed anyway and is ignored; a probe lane
  // fails the probe; a proven one lowers the target by one. kUnknownLane: any lane.
  static constexpr uint32_t kUnknownLane = UINT32_MAX;
  void on_lane_failed(uint64_t now_ms, uint32_t lane = kUnknownLane);

  struct Inputs {
    uint32_t lanes_up = 1;  // lanes that completed their greeting
    // Round trip of the primary lane (its smallest chunk sample), 0 = unknown; only used
    // while on_path_rtt() gave none (a chunk's sample includes its transmission time).
    uint64_t srtt_ms = 0;
    uint64_t waiting_chunks = 0;  // chunks not yet durable, over every upload
    uint32_t chunk_bytes = 0;  // the uploads' chunk size (0 = unknown)
  };
  // Re-evaluates; call after inputs changed (after every ack) or when poll_timeout() is due.
  void tick(uint64_t now_ms, const Inputs& in);
  // The lane count wanted now: the adapter opens lanes below it and closes the newest above.
  uint32_t target() const { return target_; }
  std::optional<uint64_t> poll_timeout() const;

  // Introspection (tests, stats).
  uint32_t probes() const { return probes_; }
  uint32_t kept() const { return kept_; }
  uint64_t backoff_ms() const { return backoff_ms_; }
  uint32_t step() const { return step_; }  // lanes the next probe adds (before the cap)
  bool probing() const { return state_ == State::Probing || state_ == State::WaitLane; }
  std::optional<uint64_t> path_rtt_ms() const;

 private:
  enum class State { Measure, WaitLane, Probing };
  uint64_t rtt(const Inputs& in) const;
  void start_interval(uint64_t now_ms, uint64_t warmup_ms);
  // Opens the interval at an ack past the warm-up; true once it is complete.
  bool interval_done(uint64_t now_ms, bool acked, const Inputs& in);
  double interval_rate(uint64_t now_ms) const;
  void fall_back(uint64_t now_ms, uint32_t lanes);
  bool start_probe(uint64_t now_ms, const Inputs& in);
  bool outlasts_probe(const Inputs& in, uint32_t lanes) const;

  LaneControllerConfig config_;
  State state_ = State::Measure;
  uint32_t target_ = 1;
  uint32_t before_probe_ = 1;  // the proven count a probe falls back to
  uint32_t step_ = 1;
  uint64_t durable_ = 0;  // running total
  uint64_t ticked_durable_ = 0;  // durable_ at the last tick: more now = an ack arrived
  bool started_ = false;  // an interval is under way (maybe still warming up)
  bool opened_ = false;  // ... and its measurement began (at an ack past the warm-up)
  uint64_t warm_until_ms_ = 0;
  uint64_t open_ms_ = 0;
  uint64_t open_bytes_ = 0;  // durable_ when the interval opened
  uint64_t want_bytes_ = 0;  // durable bytes an interval needs (from the last tick)
  uint64_t want_ms_ = 0;  // its length at least
  bool fresh_ = true;  // nothing measured since reset(): the long-path start may apply
  double baseline_ = -1;  // goodput (bytes/ms) with target_ lanes; < 0 = not measured yet
  uint64_t next_probe_ms_ = 0;
  uint64_t backoff_ms_;
  uint64_t wait_lane_until_ = 0;
  uint64_t path_rtt_ = 0;  // 0 = no sample
  uint32_t probes_ = 0;
  uint32_t kept_ = 0;
};

}  // namespace ferry::sdk
