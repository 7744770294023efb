#include "harness/chaos/core/connection.h"

#include <algorithm>
#include <cstdint>

#include "proto/frame.h"

namespace ferry::chaos {

ConnCore::ConnCore(const Faults& faults, Stats& stats, uint64_t run_seed, uint64_t ordinal,
                   uint32_t max_body)
    : faults_(faults), stats_(stats), ordinal_(ordinal), st_{DirState(max_body), DirState(max_body)} {
  uint64_t conn = connection_seed(run_seed, ordinal);
  for (int d = 0; d < 2; d++) {
    uint64_t sm = conn + uint64_t(d) * 0x632BE59BD9B4E019ull;
    st_[d].prng = Prng(splitmix64(sm));
  }
}

void ConnCore::log(ConnOutput& out, Dir d, const Unit* u, const std::string& what) {
  std::string line = "conn " + std::to_string(ordinal_) + " " + dir_name(d);
  if (u) {
    line += " #" + std::to_string(st_[int(d)].units);
    if (u->framed)
      line += std::string(" ") + proto::frame_type_name(proto::FrameType(u->type));
    else
      line += " raw";
    line += " " + std::to_string(u->bytes.size()) + "B";
  }
  out.log.push_back(line + ": " + what);
}

void ConnCore::on_bytes(Dir d, uint64_t now_us, const char* data, size_t len, ConnOutput& out) {
  if (cut_) return;
  DirState& s = st_[int(d)];
  stats_.dir[int(d)].bytes_in += len;
  s.reframer.feed(data, len);
  Unit u;
  while (!cut_ && s.reframer.next(u)) {
    if (!u.framed && !s.raw_logged) {
      s.raw_logged = true;
      log(out, d, nullptr, "not ferry frames (" + s.reframer.raw_reason() +
                               "): passing byte chunks, frame faults off");
    }
    handle_unit(d, now_us, u, out);
  }
}

void ConnCore::handle_unit(Dir d, uint64_t now_us, Unit& u, ConnOutput& out) {
  DirState& s = st_[int(d)];
  DirStats& ds = stats_.dir[int(d)];
  const DirFaults& f = faults_.of(d);
  s.units++;
  (u.framed ? ds.frames : ds.raw_chunks)++;
  // Always the same draws, in the same order (see connection.h).
  Draws r{s.prng.unit(), s.prng.unit(), s.prng.unit(), s.prng.unit(),
          s.prng.unit(), s.prng.unit(), s.prng.next()};
  if (!s.blackholed && f.blackhole_after_frames > 0 && s.units > f.blackhole_after_frames) {
    s.blackholed = true;
    s.held = Held{};
    ds.blackhole++;
    log(out, d, &u, "blackhole after " + std::to_string(f.blackhole_after_frames) +
                        " units (socket stays open, nothing more forwarded)");
  }
  if (s.blackholed) {
    ds.blackholed_bytes += u.bytes.size();
    return;
  }
  if (r.cut < f.cut_prob) {
    log(out, d, &u, "cut (cut_prob)");
    ds.cut++;
    do_cut(d, now_us, out);
    return;
  }
  if (f.cut_after_frames > 0 && s.units > f.cut_after_frames) {
    log(out, d, &u, "cut (after " + std::to_string(f.cut_after_frames) + " frames)");
    ds.cut++;
    do_cut(d, now_us, out);
    return;
  }
  // Whole-frame faults would break a stream that is not made of frames.
  bool frame_faults = u.framed;
  if (frame_faults && r.drop < f.drop) {
    ds.drop++;
    log(out, d, &u, "drop");
    return;
  }
  if (frame_faults && r.corrupt < f.corrupt && u.type == uint8_t(proto::FrameType::Chunk) &&
      u.bytes.size() > kChunkPayloadOffset) {
    std::string note;
    corrupt_payload(u.bytes, r.aux, note);
    ds.corrupt++;
    log(out, d, &u, "corrupt " + note);
  }
  std::vector<std::string> copies{u.bytes};
  if (frame_faults && r.dup < f.dup) {
    ds.dup++;
    log(out, d, &u, "dup");
    copies.push_back(u.bytes);
  }
  if (frame_faults && !s.held.active && r.reorder < f.reorder) {
    ds.reorder++;
    s.held.active = true;
    s.held.copies = std::move(copies);
    s.held.jitter = r.jitter;
    s.held.release_after = 1 + int(r.aux % 3);
    s.held.deadline_us = now_us + f.reorder_ms * 1000;
    log(out, d, &u,
        "reorder (held behind the next " + std::to_string(s.held.release_after) + " frames)");
    return;
  }
  for (const std::string& c : copies) forward(d, now_us, c, r.jitter, out);
  if (s.held.active && !cut_ && --s.held.release_after <= 0) release_held(d, now_us, out);
}

void ConnCore::release_held(Dir d, uint64_t now_us, ConnOutput& out) {
  Held h = std::move(st_[int(d)].held);
  st_[int(d)].held = Held{};
  for (const std::string& c : h.copies) {
    if (cut_ || st_[int(d)].blackholed) break;
    forward(d, now_us, c, h.jitter, out);
  }
}

void ConnCore::forward(Dir d, uint64_t now_us, const std::string& bytes, double jitter,
                       ConnOutput& out) {
  DirState& s = st_[int(d)];
  DirStats& ds = stats_.dir[int(d)];
  const DirFaults& f = faults_.of(d);
  // Thresholds may cut a frame short: the peer then sees a partial frame before the RST or
  // the silence, as it would on a real network.
  size_t n = bytes.size();
  bool cut_after = false, blackhole_after = false;
  if (f.cut_after_bytes > 0 && s.forwarded + n >= f.cut_after_bytes) {
    n = size_t(f.cut_after_bytes > s.forwarded ? f.cut_after_bytes - s.forwarded : 0);
    cut_after = true;
  }
  if (f.blackhole_after_bytes > 0 && s.forwarded + n >= f.blackhole_after_bytes) {
    size_t bh = size_t(f.blackhole_after_bytes > s.forwarded
                           ? f.blackhole_after_bytes - s.forwarded
                           : 0);
    if (bh <= n) {
      n = bh;
      blackhole_after = true;
      cut_after = false;
    }
  }
  uint64_t at = now_us;
  if (f.delay_ms > 0 || f.jitter_ms > 0) {
    at += f.delay_ms * 1000 + uint64_t(jitter * double(f.jitter_ms * 1000));
    ds.delayed++;
  }
  // The link was still busy with earlier units when this one was ready.
  if (f.rate > 0 && n > 0 && s.rate_free_us > at) ds.rate_limited++;
  // Jitter must not reorder a TCP stream: never deliver before the previous unit.
  at = std::max(at, s.last_at_us);
  if (f.rate > 0 && n > 0) {
    uint64_t start = std::max(at, s.rate_free_us);
    // Delivered when its last byte has "crossed the link".
    at = start + uint64_t(n) * 1000000 / f.rate;
    s.rate_free_us = at;
  }
  s.last_at_us = at;
  if (n > 0) {
    out.emits.push_back({d, at, bytes.substr(0, n)});
    s.forwarded += n;
    ds.bytes_out += n;
  }
  if (blackhole_after) {
    s.blackholed = true;
    ds.blackhole++;
    ds.blackholed_bytes += bytes.size() - n;
    out.log.push_back("conn " + std::to_string(ordinal_) + " " + dir_name(d) +
                      ": blackhole after " + std::to_string(s.forwarded) +
                      " bytes (socket stays open, nothing more forwarded)");
    s.held = Held{};
  } else if (cut_after) {
    ds.cut++;
    out.log.push_back("conn " + std::to_string(ordinal_) + " " + dir_name(d) + ": cut after " +
                      std::to_string(s.forwarded) + " bytes");
    do_cut(d, at, out);
  }
}

void ConnCore::corrupt_payload(std::string& frame, uint64_t aux, std::string& note) {
  size_t payload = frame.size() - kChunkPayloadOffset;
  uint64_t sm = aux;
  int flips = 1 + int(splitmix64(sm) % 3);
  for (int i = 0; i < flips; i++) {
    size_t at = kChunkPayloadOffset + size_t(splitmix64(sm) % payload);
    // A non-zero mask, so the byte really changes.
    auto mask = static_cast<unsigned char>(1 + splitmix64(sm) % 255);
    frame[at] = static_cast<char>(static_cast<unsigned char>(frame[at]) ^ mask);
    if (i == 0) note = "(" + std::to_string(flips) + " byte(s), first at body offset " +
                       std::to_string(at - proto::kFrameHeaderBytes) + ")";
  }
}

void ConnCore::do_cut(Dir d, uint64_t at_us, ConnOutput& out) {
  cut_ = true;
  out.cut = true;
  out.cut_at_us = std::max({at_us, st_[int(d)].last_at_us});
  for (DirState& s : st_) s.held = Held{};
}

void ConnCore::cut_now(uint64_t now_us, ConnOutput& out) {
  if (cut_) return;
  cut_ = true;
  out.cut = true;
  out.cut_at_us = now_us;
  stats_.cut_now++;
  out.log.push_back("conn " + std::to_string(ordinal_) + ": cut (cut_now)");
}

void ConnCore::on_timer(uint64_t now_us, ConnOutput& out) {
  for (int d = 0; d < 2; d++) {
    DirState& s = st_[d];
    if (!cut_ && s.held.active && s.held.deadline_us <= now_us) {
      out.log.push_back("conn " + std::to_string(ordinal_) + " " + dir_name(Dir(d)) +
                        ": reordered frame released by its timer");
      release_held(Dir(d), now_us, out);
    }
  }
}

uint64_t ConnCore::next_timer_us() const {
  uint64_t t = UINT64_MAX;
  if (cut_) return t;
  for (const DirState& s : st_)
    if (s.held.active) t = std::min(t, s.held.deadline_us);
  return t;
}

}  // namespace ferry::chaos
