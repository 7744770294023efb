// Frame encoding and the incremental decoder (see frame.h for the wire layout).
#include "proto/frame.h"

#include <cassert>
#include <cstring>

namespace ferry::proto {

bool frame_type_known(uint8_t type) {
  return (type >= 0x01 && type <= 0x07) || (type >= 0x10 && type <= 0x14);
}

const char* frame_type_name(FrameType type) {
  switch (type) {
    case FrameType::Hello: return "HELLO";
    case FrameType::Request: return "REQUEST";
    case FrameType::Response: return "RESPONSE";
    case FrameType::Push: return "PUSH";
    case FrameType::Error: return "ERROR";
    case FrameType::Ping: return "PING";
    case FrameType::Pong: return "PONG";
    case FrameType::UploadOpen: return "UPLOAD_OPEN";
    case FrameType::UploadState: return "UPLOAD_STATE";
    case FrameType::Chunk: return "CHUNK";
    case FrameType::ChunkAck: return "CHUNK_ACK";
    case FrameType::UploadDone: return "UPLOAD_DONE";
  }
  return "UNKNOWN";
}

void encode_frame_header(uint8_t header[kFrameHeaderBytes], FrameType type, uint32_t body_len) {
  header[0] = static_cast<uint8_t>(body_len >> 24);
  header[1] = static_cast<uint8_t>(body_len >> 16);
  header[2] = static_cast<uint8_t>(body_len >> 8);
  header[3] = static_cast<uint8_t>(body_len);
  header[4] = static_cast<uint8_t>(type);
}

void encode_frame(std::string& out, FrameType type, std::string_view body) {
  assert(body.size() <= UINT32_MAX);
  uint8_t header[kFrameHeaderBytes];
  encode_frame_header(header, type, static_cast<uint32_t>(body.size()));
  out.append(reinterpret_cast<const char*>(header), kFrameHeaderBytes);
  out.append(body.data(), body.size());
}

void FrameDecoder::feed(const char* data, size_t len) {
  if (failed_ != DecodeStatus::NeedMore) return;
  // Compact lazily: only when the consumed prefix dominates, so a stream of small frames
  // does not memmove on every feed.
  if (pos_ > 0 && pos_ >= buf_.size() / 2) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(data, len);
}

DecodeStatus FrameDecoder::next(Frame& out) {
  if (failed_ != DecodeStatus::NeedMore) return failed_;
  size_t avail = buf_.size() - pos_;
  if (avail < kFrameHeaderBytes) {
    if (avail == 0) {
      buf_.clear();
      pos_ = 0;
    }
    return DecodeStatus::NeedMore;
  }
  const auto* p = reinterpret_cast<const uint8_t*>(buf_.data() + pos_);
  uint32_t len = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
  uint8_t type = p[4];
  if (!frame_type_known(type)) {
    failed_ = DecodeStatus::BadType;
    error_ = "unknown frame type 0x";
    static const char* digits = "0123456789abcdef";
    error_ += digits[type >> 4];
    error_ += digits[type & 15];
    return failed_;
  }
  if (len > max_body_) {
    failed_ = DecodeStatus::TooLarge;
    error_ = "frame body of " + std::to_string(len) + " bytes exceeds the limit of " +
             std::to_string(max_body_) + " bytes";
    return failed_;
  }
  if (avail < kFrameHeaderBytes + len) {
    buf_.reserve(pos_ + kFrameHeaderBytes + len);  // bounded by max_body_, checked above
    return DecodeStatus::NeedMore;
  }
  out.type = static_cast<FrameType>(type);
  out.body = std::string_view(buf_.data() + pos_ + kFrameHeaderBytes, len);
  pos_ += kFrameHeaderBytes + len;
  return DecodeStatus::Ready;
}

}  // namespace ferry::proto
