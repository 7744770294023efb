// The per-direction packet scheduler of ferry-link (see link_core.h for the pipeline).
#include "harness/link/core/link_core.h"

#include <algorithm>

namespace ferry::link {
namespace {

constexpr uint64_t kUnitsPerBit = 1000000;  // token-bucket credit per bit (bit-microseconds)
constexpr uint64_t kMinBurstBytes = 1500;   // one full-size packet at the TUN's MTU

}  // namespace

LinkCore::LinkCore(const LinkSpec& spec, uint64_t seed) : spec_(spec), prng_(seed) {
  bucket_max_ = std::max<uint64_t>(spec.burst_bytes, kMinBurstBytes) * 8 * kUnitsPerBit;
  bucket_ = bucket_max_;
}

bool LinkCore::lose(double u_loss, double u_state) {
  if (!spec_.gemodel) {
    if (u_loss >= spec_.loss) return false;
    stats_.drop_random++;
    return true;
  }
  // netem's order: move the chain first, then decide the loss in the state it is now in.
  if (!ge_bad_) {
    if (u_state < spec_.ge_p) ge_bad_ = true;
  } else if (u_state < spec_.ge_r) {
    ge_bad_ = false;
  }
  if (u_loss >= (ge_bad_ ? spec_.ge_bad_loss : spec_.ge_good_loss)) return false;
  (ge_bad_ ? stats_.drop_burst : stats_.drop_random)++;
  return true;
}

uint64_t LinkCore::rate_departure(uint64_t now_us, size_t size) {
  const uint64_t rate = spec_.rate_bps;
  const uint64_t start = std::max(now_us, link_free_us_);
  // Refill up to `start`. The guard keeps dt * rate far from overflowing after a long idle.
  const uint64_t dt = start - bucket_at_us_;
  if (dt >= (bucket_max_ - bucket_) / rate + 1) {
    bucket_ = bucket_max_;
  } else {
    bucket_ = std::min(bucket_max_, bucket_ + dt * rate);
  }
  bucket_at_us_ = start;
  const uint64_t need = uint64_t(size) * 8 * kUnitsPerBit;
  uint64_t leave = start;
  if (bucket_ >= need) {
    bucket_ -= need;
  } else {
    const uint64_t wait_us = (need - bucket_ + rate - 1) / rate;
    leave = start + wait_us;
    bucket_ = bucket_ + wait_us * rate - need;  // what the rounding up left over, < rate
    bucket_at_us_ = leave;
  }
  link_free_us_ = leave;
  return leave;
}

void LinkCore::hold(uint64_t now_us, uint64_t leave_us, int64_t jitter_us, bool reorder,
                    const uint8_t* data, size_t size) {
  uint64_t release = leave_us;
  if (!reorder) {
    const int64_t delay = std::max<int64_t>(0, int64_t(spec_.delay_us) + jitter_us);
    release = std::max(leave_us + uint64_t(delay), floor_us_);
    floor_us_ = release;
  }
  if (release > now_us) stats_.delayed++;
  line_.push_back(Held{release, seq_++, std::vector<uint8_t>(data, data + size)});
  std::push_heap(line_.begin(), line_.end(), Later{});
  stats_.max_held = std::max<uint64_t>(stats_.max_held, line_.size());
}

void LinkCore::recv(uint64_t now_us, const uint8_t* data, size_t size) {
  stats_.packets_in++;
  stats_.bytes_in += size;
  // Always the same five draws, in this order (determinism: see link_core.h).
  const double u_loss = prng_.unit();
  const double u_state = prng_.unit();
  const double u_dup = prng_.unit();
  const double u_reorder = prng_.unit();
  const uint64_t r_jitter = prng_.next();

  note_syn(data, size);
  if (stats_.packets_in <= spec_.drop_first) {
    stats_.drop_first++;
    return;
  }
  if (lose(u_loss, u_state)) return;
  const int copies = u_dup < spec_.duplicate ? 2 : 1;
  if (copies == 2) stats_.duplicated++;
  const bool reorder = spec_.delay_us > 0 && u_reorder < spec_.reorder;
  if (reorder) stats_.reordered++;
  const uint64_t j = spec_.jitter_us;
  const int64_t jitter = j ? int64_t(r_jitter % (2 * j + 1)) - int64_t(j) : 0;

  for (int c = 0; c < copies; c++) {
    if (line_.size() >= kMaxHeld) {
      stats_.drop_queue++;
      continue;
    }
    uint64_t leave = now_us;
    if (spec_.rate_bps) {
      while (!rate_queue_.empty() && rate_queue_.front() <= now_us) rate_queue_.pop_front();
      if (rate_queue_.size() >= spec_.limit) {
        stats_.drop_rate++;
        continue;
      }
      leave = rate_departure(now_us, size);
      rate_queue_.push_back(leave);
    }
    hold(now_us, leave, jitter, reorder, data, size);
  }
}

void LinkCore::note_syn(const uint8_t* data, size_t size) {
  if (size < 20 || (data[0] >> 4) != 4 || data[9] != 6) return;  // IPv4 TCP only
  const size_t ihl = size_t(data[0] & 0x0f) * 4;
  if (ihl < 20 || size < ihl + 14) return;
  const uint8_t flags = data[ihl + 13];
  if (!(flags & 0x02) || (flags & 0x10)) return;  // SYN without ACK: a connection's opening
  std::array<uint8_t, 12> key{};
  std::copy(data + 12, data + 20, key.begin());            // source and destination address
  std::copy(data + ihl, data + ihl + 4, key.begin() + 8);  // source and destination port
  if (syn_seen_.insert(key).second) stats_.syn_flows++;
}

bool LinkCore::poll_send(uint64_t now_us, std::vector<uint8_t>& out) {
  if (line_.empty() || line_.front().release_us > now_us) return false;
  std::pop_heap(line_.begin(), line_.end(), Later{});
  out = std::move(line_.back().bytes);
  line_.pop_back();
  stats_.packets_out++;
  stats_.bytes_out += out.size();
  return true;
}

uint64_t LinkCore::poll_timeout() const {
  return line_.empty() ? UINT64_MAX : line_.front().release_us;
}

std::string stats_json(const LinkStats& s, const std::string& spec_text) {
  std::string out = "{\"spec\":\"";
  for (char c : spec_text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  auto num = [&out](const char* key, uint64_t v) {
    out += ",\"";
    out += key;
    out += "\":" + std::to_string(v);
  };
  out += "\"";
  num("packets_in", s.packets_in);
  num("bytes_in", s.bytes_in);
  num("packets_out", s.packets_out);
  num("bytes_out", s.bytes_out);
  out += ",\"dropped\":{\"random\":" + std::to_string(s.drop_random);
  out += ",\"burst\":" + std::to_string(s.drop_burst);
  out += ",\"rate\":" + std::to_string(s.drop_rate);
  out += ",\"queue\":" + std::to_string(s.drop_queue);
  out += ",\"first\":" + std::to_string(s.drop_first) + "}";
  num("syn_flows", s.syn_flows);
  num("duplicated", s.duplicated);
  num("reordered", s.reordered);
  num("delayed", s.delayed);
  num("max_held", s.max_held);
  out += "}";
  return out;
}

}  // namespace ferry::link
