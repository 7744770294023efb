// An owning, incremental frame reader for ferry-resd's data connections. Sans-I/O.
//
// Why not proto::FrameDecoder: that decoder keeps one growing buffer and lends out views that
// die at the next feed, so a CHUNK's payload would have to be copied again to outlive the read
// and travel to a file worker. This reader gives every frame body its own allocation (made
// once the header is known and its length checked against the limit), and the caller may take
// that allocation (take_body) and hand it on. It also lends the unfilled tail of a large body
// to the transport (direct_window), so libuv can read straight into it: bytes arrive from the
// kernel into the buffer the worker hashes and writes from, with no user-space copy at all.
// A CHUNK's payload is also summed (proto/chunk_sum.h) piece by piece as it arrives, while
// those bytes are in the cache; summed later on a file worker it ran at memory speed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "proto/chunk_sum.h"
#include "proto/frame.h"

namespace ferry::resource {

// CHUNK bodies are placed so that their payload starts on this boundary: the file workers can
// then hand it to an O_DIRECT write (servers/resource/store/file_store.cpp) as it is.
inline constexpr size_t kPayloadAlign = 4096;

// A frame body the reader no longer owns; `size` bytes at `data`, inside `storage`.
struct OwnedBody {
  std::unique_ptr<char[]> storage;
  char* data = nullptr;
  size_t size = 0;
  void release() {
    storage.reset();
    data = nullptr;
  }
};

class FrameReader {
 public:
  enum class Status {
    NeedMore,  // no complete frame yet
    Ready,     // type() and body() describe a complete frame until the next call
    TooLarge,  // announced body exceeds max_body: fatal, stays failed
    BadType,   // unknown type byte: fatal, stays failed
  };

  explicit FrameReader(uint32_t max_body) : max_body_(max_body) {}
  void set_max_body(uint32_t max_body) { max_body_ = max_body; }

  // Consumes bytes from [data, data+len) up to the end of the next frame at most. Returns
  // how many were consumed; `status` says whether a frame is complete. Call again with the
  // rest until it consumes everything or fails.
  size_t feed(const char* data, size_t len, Status& status);

  // When the reader is inside a body with at least `min_bytes` still missing, returns the
  // address of the missing part and its length, so the transport can read into it directly;
  // then call commit_direct(n) with the bytes it put there. Otherwise returns nullptr.
  char* direct_window(size_t min_bytes, size_t& len);
  Status commit_direct(size_t n);

  // The complete frame (valid after Ready until the next feed/commit_direct).
  proto::FrameType type() const { return type_; }
  std::string_view body() const { return {body_.data, body_len_}; }
  // Takes the complete frame's body; body() is empty afterwards.
  OwnedBody take_body();
  // For a complete CHUNK frame with a payload: chunk_sum() of the bytes after its prefix
  // (whether or not the prefix decodes). Valid until the next feed/commit_direct.
  const std::optional<proto::ChunkSum>& payload_sum() const { return payload_sum_; }
  const std::string& error() const { return error_; }

 private:
  Status after_header();
  Status finish_if_complete();
  void arrived(size_t from, size_t to);  // body bytes [from, to) were just filled in

  uint32_t max_body_;
  char header_[proto::kFrameHeaderBytes] = {};
  size_t header_have_ = 0;
  bool in_body_ = false;
  bool ready_ = false;  // a complete frame is held; the next feed starts a new one
  proto::FrameType type_ = proto::FrameType::Hello;
  OwnedBody body_;
  size_t body_len_ = 0;
  size_t body_have_ = 0;
  std::optional<proto::ChunkSummer> summer_;  // while a CHUNK body arrives
  std::optional<proto::ChunkSum> payload_sum_;
  Status failed_ = Status::NeedMore;
  std::string error_;
};

}  // namespace ferry::resource
