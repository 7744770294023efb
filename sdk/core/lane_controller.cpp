// The adaptive lane count (see lane_controller.h).
#include "sdk/core/lane_controller.h"

#include <algorithm>

namespace ferry::sdk {

LaneController::LaneController(LaneControllerConfig config)
    : config_(config), backoff_ms_(config.backoff_min_ms) {
  config_.max_lanes = std::max<uint32_t>(1, config_.max_lanes);
}

void LaneController::on_path_rtt(uint64_t rtt_ms) {
  rtt_ms = std::max<uint64_t>(1, rtt_ms);  // 0 means "no sample"; a sub-ms path is 1 ms
  path_rtt_ = path_rtt_ == 0 ? rtt_ms : std::min(path_rtt_, rtt_ms);
}

std::optional<uint64_t> LaneController::path_rtt_ms() const {
  if (path_rtt_ == 0) return std::nullopt;
  return path_rtt_;
}

uint64_t LaneController::rtt(const Inputs& in) const {
  return path_rtt_ != 0 ? path_rtt_ : in.srtt_ms;
}

void LaneController::reset(uint64_t now_ms) {
  state_ = State::Measure;
  target_ = 1;
  before_probe_ = 1;
  step_ = 1;
  started_ = false;
  opened_ = false;
  fresh_ = true;
  baseline_ = -1;
  next_probe_ms_ = std::max(next_probe_ms_, now_ms);
}

void LaneController::start_interval(uint64_t now_ms, uint64_t warmup_ms) {
  started_ = true;
  opened_ = false;
  warm_until_ms_ = now_ms + std::min(warmup_ms, config_.max_interval_ms);
}

bool LaneController::interval_done(uint64_t now_ms, bool acked, const Inputs& in) {
  (void)in;
  if (!opened_) {
    if (now_ms < warm_until_ms_) return false;
    if (acked) {
      // Bytes of this very ack arrived at the opening instant: they belong before it.
      opened_ = true;
      open_ms_ = now_ms;
      open_bytes_ = durable_;
      return false;
    }
    if (now_ms - warm_until_ms_ < config_.max_interval_ms) return false;
    // No ack at all since the warm-up: the lanes carry nothing.
    opened_ = true;
    open_ms_ = warm_until_ms_;
    open_bytes_ = durable_;
    return true;
  }
  uint64_t elapsed = now_ms - open_ms_;
  if (elapsed >= config_.max_interval_ms) return true;
  return acked && elapsed >= want_ms_ && durable_ - open_bytes_ >= want_bytes_;
}

double LaneController::interval_rate(uint64_t now_ms) const {
  if (!opened_) return 0;
  return static_cast<double>(durable_ - open_bytes_) /
         static_cast<double>(std::max<uint64_t>(1, now_ms - open_ms_));
}

// Back to `lanes` (the count that had proven itself), a smaller step next time, and a wait
// before the next probe that doubles after each failure.
void LaneController::fall_back(uint64_t now_ms, uint32_t lanes) {
  target_ = std::max<uint32_t>(1, lanes);
  before_probe_ = target_;
  step_ = std::max<uint32_t>(1, step_ / 2);
  next_probe_ms_ = now_ms + backoff_ms_;
  backoff_ms_ = std::min(config_.backoff_max_ms, backoff_ms_ * 2);
  state_ = State::Measure;
  fresh_ = false;
  started_ = false;  // re-measure the baseline with the smaller count
  opened_ = false;
}

// A lane that could not be established or died: whatever the state, fewer lanes and a pause
// before the next probe (otherwise a server that refuses extra connections would be dialed
// in a loop). A lane numbered at or above the target was surplus already (being closed).
void LaneController::on_lane_failed(uint64_t now_ms, uint32_t lane) {
  if (target_ <= 1 || lane < 1 || (lane != kUnknownLane && lane >= target_)) return;
  if (probing() && (lane == kUnknownLane || lane >= before_probe_)) {
    return fall_back(now_ms, before_probe_);
  }
  fall_back(now_ms, target_ - 1);
}

// More lanes, if the cap and the work left allow it: wait for them to come up, then measure.
bool LaneController::start_probe(uint64_t now_ms, const Inputs& in) {
  if (target_ >= config_.max_lanes || in.waiting_chunks < config_.min_waiting_chunks) return false;
  uint32_t lanes = std::min(config_.max_lanes, target_ + std::max<uint32_t>(1, step_));
  if (!outlasts_probe(in, lanes)) return false;
  before_probe_ = target_;
  target_ = lanes;
  probes_++;
  state_ = State::WaitLane;
  wait_lane_until_ = now_ms + config_.lane_up_timeout_ms;
  started_ = false;
  opened_ = false;
  return true;
}

// A probe is judged after its warm-up and one interval (see tick), and only then can a gain
// pay: so the work left, at the proven lanes' goodput, must last at least twice that. A probe
// near the end cannot pay for itself: the new lanes, still in slow start, only take the last
// chunks and deliver them late. Through ferry-link at 40 ms and 1% loss, a probe from 4 to 8
// lanes at 82% of a 64 MiB file stretched its last 10 MiB from ~0.1 s to 0.6 s.
bool LaneController::outlasts_probe(const Inputs& in, uint32_t lanes) const {
  if (baseline_ <= 0 || in.chunk_bytes == 0) return true;
  double chunk = static_cast<double>(in.chunk_bytes);
  double warmup_ms = 2.0 * static_cast<double>(rtt(in)) + chunk * target_ / baseline_;
  double interval_ms =
      std::max(static_cast<double>(std::max<uint64_t>(config_.min_interval_ms,
                                                      config_.interval_rtts * rtt(in))),
               std::min(static_cast<double>(config_.max_interval_ms),
                        chunk * config_.min_interval_chunks * lanes / baseline_));
  double left_ms = chunk * static_cast<double>(in.waiting_chunks) / baseline_;
  return left_ms >= 2 * (warmup_ms + interval_ms);
}

void LaneController::tick(uint64_t now_ms, const Inputs& in) {
  if (config_.max_lanes <= 1) return;
  bool acked = durable_ != ticked_durable_;
  ticked_durable_ = durable_;
  // Per lane: lanes opened together ack in step, so an interval shorter than a couple of
  // chunks per lane would see a burst of acks or none and misjudge the rate.
  want_bytes_ = uint64_t{config_.min_interval_chunks} * in.chunk_bytes * target_;
  want_ms_ = std::max<uint64_t>(config_.min_interval_ms, config_.interval_rtts * rtt(in));
  switch (state_) {
    case State::Measure: {
      // A long path: one stream is loss-bound there as a rule, so begin with several lanes
      // instead of spending the first (slow) intervals to learn it.
      if (fresh_ && target_ == 1 && config_.long_path_rtt_ms > 0 &&
          path_rtt_ >= config_.long_path_rtt_ms &&
          in.waiting_chunks >= config_.min_waiting_chunks) {
        fresh_ = false;
        bool very_long =
            config_.very_long_path_rtt_ms > 0 && path_rtt_ >= config_.very_long_path_rtt_ms;
        uint32_t start = very_long ? config_.very_long_path_lanes : config_.long_path_lanes;
        target_ = before_probe_ = step_ = std::clamp<uint32_t>(start, 1, config_.max_lanes);
        started_ = opened_ = false;
        return;
      }
      // The lanes we have must all be up before their goodput means anything.
      if (in.lanes_up < target_) return;
      if (!started_) start_interval(now_ms, 0);
      if (!interval_done(now_ms, acked, in)) return;
      double rate = interval_rate(now_ms);
      baseline_ = rate;
      fresh_ = false;
      if (now_ms >= next_probe_ms_ && rate > 0 && start_probe(now_ms, in)) return;
      // Keep the baseline fresh: the next interval opens at this same ack.
      start_interval(now_ms, 0);
      interval_done(now_ms, acked, in);
      return;
    }
    case State::WaitLane:
      if (in.lanes_up >= target_) {
        state_ = State::Probing;
        // The new lanes' first ack comes after one chunk at one lane's share of the
        // goodput, plus a couple of round trips for their connections to open up.
        uint64_t warmup = 2 * rtt(in);
        if (baseline_ > 0) {
          warmup += static_cast<uint64_t>(static_cast<double>(in.chunk_bytes) * before_probe_ /
                                          baseline_);
        }
        start_interval(now_ms, warmup);
        return;
      }
      if (now_ms >= wait_lane_until_) fall_back(now_ms, before_probe_);
      return;
    case State::Probing: {
      if (!interval_done(now_ms, acked, in)) return;
      double rate = interval_rate(now_ms);
      if (rate >= baseline_ * (1.0 + config_.keep_gain) && rate > 0) {
        kept_++;
        baseline_ = rate;
        backoff_ms_ = config_.backoff_min_ms;
        next_probe_ms_ = now_ms;  // it paid: try more at once
        before_probe_ = target_;
        step_ = target_;  // double again
        state_ = State::Measure;
        // The probe interval doubles as the next baseline: probe again without re-measuring.
        if (start_probe(now_ms, in)) return;
        start_interval(now_ms, 0);
        interval_done(now_ms, acked, in);
        return;
      }
      return fall_back(now_ms, before_probe_);
    }
  }
}

std::optional<uint64_t> LaneController::poll_timeout() const {
  if (config_.max_lanes <= 1) return std::nullopt;
  switch (state_) {
    case State::Measure:
    case State::Probing:
      if (!started_) return std::nullopt;
      // Intervals open and close on acks (each ack ticks); the timer is only the cap for a
      // link that went quiet.
      if (!opened_) return warm_until_ms_ + config_.max_interval_ms;
      return open_ms_ + config_.max_interval_ms;
    case State::WaitLane:
      return wait_lane_until_;
  }
  return std::nullopt;
}

}  // namespace ferry::sdk
