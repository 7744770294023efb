// Owning frame reader (see frame_reader.h).
#include "servers/resource/core/frame_reader.h"

#include "proto/upload_frames.h"

#include <algorithm>
#include <cstring>

namespace ferry::resource {

size_t FrameReader::feed(const char* data, size_t len, Status& status) {
  if (failed_ != Status::NeedMore) {
    status = failed_;
    return len;  // a failed stream is discarded
  }
  if (ready_) {
    ready_ = false;
    body_.release();
    body_len_ = body_have_ = 0;
    payload_sum_.reset();
  }
  size_t used = 0;
  if (!in_body_) {
    size_t n = std::min(len, proto::kFrameHeaderBytes - header_have_);
    std::memcpy(header_ + header_have_, data, n);
    header_have_ += n;
    used += n;
    if (header_have_ < proto::kFrameHeaderBytes) {
      status = Status::NeedMore;
      return used;
    }
    status = after_header();
    if (status != Status::NeedMore) return used;  // failed, or a frame with an empty body
  }
  size_t n = std::min(len - used, body_len_ - body_have_);
  std::memcpy(body_.data + body_have_, data + used, n);
  arrived(body_have_, body_have_ + n);
  body_have_ += n;
  used += n;
  status = finish_if_complete();
  return used;
}

void FrameReader::arrived(size_t from, size_t to) {
  if (!summer_) return;
  from = std::max(from, proto::kChunkPrefixBytes);
  if (to > from) summer_->update(body_.data + from, to - from);
}

FrameReader::Status FrameReader::after_header() {
  uint32_t len = (uint32_t(uint8_t(header_[0])) << 24) | (uint32_t(uint8_t(header_[1])) << 16) |
                 (uint32_t(uint8_t(header_[2])) << 8) | uint32_t(uint8_t(header_[3]));
  uint8_t type = static_cast<uint8_t>(header_[4]);
  if (!proto::frame_type_known(type)) {
    error_ = "unknown frame type 0x" + std::string(1, "0123456789abcdef"[type >> 4]) +
             std::string(1, "0123456789abcdef"[type & 15]);
    return failed_ = Status::BadType;
  }
  if (len > max_body_) {
    error_ = "frame of " + std::to_string(len) + " bytes exceeds the limit of " +
             std::to_string(max_body_);
    return failed_ = Status::TooLarge;
  }
  type_ = static_cast<proto::FrameType>(type);
  body_len_ = len;
  body_have_ = 0;
  // Not value-initialised: a chunk buffer is about to be overwritten, zeroing it is waste.
  // A CHUNK's body gets kPayloadAlign spare bytes so its payload can start on that boundary.
  bool chunk = type_ == proto::FrameType::Chunk && len > proto::kChunkPrefixBytes;
  size_t spare = chunk ? kPayloadAlign : 0;
  body_.storage = std::make_unique_for_overwrite<char[]>(len + spare + 1);
  body_.data = body_.storage.get();
  if (chunk) {
    auto payload = reinterpret_cast<uintptr_t>(body_.data + proto::kChunkPrefixBytes);
    body_.data += (kPayloadAlign - payload % kPayloadAlign) % kPayloadAlign;
  }
  body_.size = len;
  in_body_ = true;
  if (chunk) summer_.emplace();  // the last frame's finished with finish_if_complete()
  return finish_if_complete();
}

FrameReader::Status FrameReader::finish_if_complete() {
  if (body_have_ < body_len_) return Status::NeedMore;
  if (summer_) {
    payload_sum_ = summer_->digest();
    summer_.reset();
  }
  in_body_ = false;
  header_have_ = 0;
  ready_ = true;
  return Status::Ready;
}

char* FrameReader::direct_window(size_t min_bytes, size_t& len) {
  if (failed_ != Status::NeedMore || !in_body_ || ready_) return nullptr;
  size_t missing = body_len_ - body_have_;
  if (missing < min_bytes) return nullptr;
  len = missing;
  return body_.data + body_have_;
}

FrameReader::Status FrameReader::commit_direct(size_t n) {
  n = std::min(n, body_len_ - body_have_);
  arrived(body_have_, body_have_ + n);
  body_have_ += n;
  return finish_if_complete();
}

OwnedBody FrameReader::take_body() {
  OwnedBody b = std::move(body_);
  body_.release();
  body_len_ = body_have_ = 0;
  return b;
}

}  // namespace ferry::resource
