// The adaptive lane count (see lane_controller.h).
#include "sdk/core/lane_controller.h"

#include <algorithm>

namespace ferry::sdk {

LaneController::LaneController(LaneControllerConfig config)
    : config_(config), backoff_ms_(config.backoff_min_ms) {
  config_.max_lanes = std::max<uint32_t>(1, config_.max_lanes);
}

void LaneController::reset(uint64_t now_ms) {
  state_ = State::Measure;
  target_ = 1;
  started_ = false;
  baseline_ = -1;
  next_probe_ms_ = std::max(next_probe_ms_, now_ms);
}

void LaneController::start_interval(uint64_t now_ms, uint64_t srtt_ms) {
  started_ = true;
  interval_start_ms_ = now_ms;
  interval_bytes_ = durable_;
  uint64_t len = std::max<uint64_t>(config_.min_interval_ms, config_.interval_rtts * srtt_ms);
  interval_end_ms_ = now_ms + len;
}

bool LaneController::interval_done(uint64_t now_ms, const Inputs& in) const {
  if (now_ms < interval_end_ms_) return false;
  (void)in;
  return durable_ - interval_bytes_ >= want_bytes_ ||
         now_ms - interval_start_ms_ >= config_.max_interval_ms;
}

// The probe did not pay: back to the lanes that had proven themselves, wait longer next time.
void LaneController::give_up_probe(uint64_t now_ms) {
  target_ = std::max<uint32_t>(1, target_ - 1);
  next_probe_ms_ = now_ms + backoff_ms_;
  backoff_ms_ = std::min(config_.backoff_max_ms, backoff_ms_ * 2);
  state_ = State::Measure;
  started_ = false;  // re-measure the baseline with the smaller count
}

// A lane that could not be established or died: whatever the state, one lane fewer and a
// pause before the next probe (otherwise a server that refuses extra connections would be
// dialed in a loop).
void LaneController::on_lane_failed(uint64_t now_ms) {
  if (target_ <= 1) return;
  give_up_probe(now_ms);
}

// One lane more, if the cap and the work left allow it: wait for it to come up, then measure.
bool LaneController::start_probe(uint64_t now_ms, const Inputs& in) {
  if (target_ >= config_.max_lanes || in.waiting_chunks < config_.min_waiting_chunks) return false;
  target_++;
  probes_++;
  state_ = State::WaitLane;
  wait_lane_until_ = now_ms + config_.lane_up_timeout_ms;
  started_ = false;
  return true;
}

void LaneController::tick(uint64_t now_ms, const Inputs& in) {
  if (config_.max_lanes <= 1) return;
  want_bytes_ = uint64_t{config_.min_interval_chunks} * in.chunk_bytes;
  switch (state_) {
    case State::Measure: {
      // The lanes we have must all be up before their goodput means anything.
      if (in.lanes_up < target_) return;
      if (!started_) return start_interval(now_ms, in.srtt_ms);
      if (!interval_done(now_ms, in)) return;
      double rate = static_cast<double>(durable_ - interval_bytes_) /
                    static_cast<double>(std::max<uint64_t>(1, now_ms - interval_start_ms_));
      baseline_ = rate;
      if (now_ms >= next_probe_ms_ && rate > 0 && start_probe(now_ms, in)) return;
      return start_interval(now_ms, in.srtt_ms);  // keep the baseline fresh
    }
    case State::WaitLane:
      if (in.lanes_up >= target_) {
        state_ = State::Probing;
        return start_interval(now_ms, in.srtt_ms);
      }
      if (now_ms >= wait_lane_until_) give_up_probe(now_ms);
      return;
    case State::Probing: {
      if (!interval_done(now_ms, in)) return;
      double rate = static_cast<double>(durable_ - interval_bytes_) /
                    static_cast<double>(std::max<uint64_t>(1, now_ms - interval_start_ms_));
      if (rate >= baseline_ * (1.0 + config_.keep_gain) && rate > 0) {
        kept_++;
        baseline_ = rate;
        backoff_ms_ = config_.backoff_min_ms;
        next_probe_ms_ = now_ms;  // it paid: try one more at once
        state_ = State::Measure;
        // The probe interval doubles as the next baseline: probe again without re-measuring.
        if (start_probe(now_ms, in)) return;
        return start_interval(now_ms, in.srtt_ms);
      }
      return give_up_probe(now_ms);
    }
  }
}

std::optional<uint64_t> LaneController::poll_timeout() const {
  if (config_.max_lanes <= 1) return std::nullopt;
  switch (state_) {
    case State::Measure:
    case State::Probing:
      if (!started_) return std::nullopt;
      // Not enough durable bytes yet: the next ack ticks anyway; the time bound is the cap.
      if (durable_ - interval_bytes_ < want_bytes_) {
        return std::max(interval_end_ms_, interval_start_ms_ + config_.max_interval_ms);
      }
      return interval_end_ms_;
    case State::WaitLane:
      return wait_lane_until_;
  }
  return std::nullopt;
}

}  // namespace ferry::sdk
