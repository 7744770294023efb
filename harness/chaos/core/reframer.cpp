#include "harness/chaos/core/reframer.h"

#include "proto/frame.h"

namespace ferry::chaos {

void Reframer::feed(const char* data, size_t len) {
  // Compact before growing so a long stream keeps at most one partial frame buffered.
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > (1u << 20) && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(data, len);
}

bool Reframer::next(Unit& out) {
  size_t avail = buf_.size() - pos_;
  if (avail == 0) return false;
  if (!raw_) {
    if (avail < proto::kFrameHeaderBytes) return false;
    const auto* h = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
    uint32_t len = (uint32_t(h[0]) << 24) | (uint32_t(h[1]) << 16) | (uint32_t(h[2]) << 8) | h[3];
    uint8_t type = h[4];
    if (!proto::frame_type_known(type)) {
      raw_ = true;
      raw_reason_ = "unknown frame type " + std::to_string(type);
    } else if (len > max_body_) {
      raw_ = true;
      raw_reason_ = "frame length " + std::to_string(len) + " above " + std::to_string(max_body_);
    } else {
      size_t total = proto::kFrameHeaderBytes + len;
      if (avail < total) return false;
      out.framed = true;
      out.type = type;
      out.bytes.assign(buf_, pos_, total);
      pos_ += total;
      return true;
    }
  }
  out.framed = false;
  out.type = 0;
  out.bytes.assign(buf_, pos_, avail);
  pos_ = buf_.size();
  return true;
}

}  // namespace ferry::chaos
