// ferry wire frames: encoder and incremental decoder. Sans-I/O: bytes in, frames out.
//
// A frame is a 5-byte header followed by a body:
//
//   u32 body_length (big-endian) | u8 type | body[body_length]
//
// The decoder checks the length against its configured maximum and the type against the
// known set *before* it allocates or buffers the body, so a peer cannot make us allocate
// by announcing a huge frame. See docs/protocol.md for every frame type and its body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::proto {

inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr size_t kFrameHeaderBytes = 5;
// Default body limit for control connections (chat server). Data connections raise it.
inline constexpr uint32_t kDefaultMaxBody = 1u << 20;

enum class FrameType : uint8_t {
  Hello = 0x01,  // JSON: version exchange, first frame in each direction
  Request = 0x02,  // JSON: {"op":..., "rid":...}
  Response = 0x03,  // JSON: {"rid":..., "ok":...}
  Push = 0x04,  // JSON: server-initiated event
  Error = 0x05,  // JSON: connection-level error; sender closes after it if "fatal"
  Ping = 0x06,  // empty or opaque body, echoed in Pong
  Pong = 0x07,
  // 0x10..0x1f: resource-server data frames (binary), see docs/protocol.md.
  UploadOpen = 0x10,
  UploadState = 0x11,
  Chunk = 0x12,
  ChunkAck = 0x13,
  UploadDone = 0x14,
};

bool frame_type_known(uint8_t type);
const char* frame_type_name(FrameType type);

// Appends one encoded frame to `out`. Bodies longer than UINT32_MAX are a programmer error.
void encode_frame(std::string& out, FrameType type, std::string_view body);
// Writes only the header (for zero-copy senders that send the body from elsewhere).
void encode_frame_header(uint8_t header[kFrameHeaderBytes], FrameType type, uint32_t body_len);

struct Frame {
  FrameType type;
  std::string_view body;  // borrowed from the decoder; valid until the next feed()/next()
};

enum class DecodeStatus {
  NeedMore,  // no complete frame buffered
  Ready,  // a frame was returned
  TooLarge,  // announced body exceeds the limit: the stream can no longer be trusted
  BadType,  // unknown frame type: the stream can no longer be trusted
};

// Incremental decoder. Feed it any split of the byte stream; call next() until it returns
// NeedMore. After TooLarge or BadType it stays in that state (the connection must close).
class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_body = kDefaultMaxBody) : max_body_(max_body) {}

  void feed(const char* data, size_t len);
  DecodeStatus next(Frame& out);

  uint32_t max_body() const { return max_body_; }
  void set_max_body(uint32_t max_body) { max_body_ = max_body; }
  size_t buffered() const { return buf_.size() - pos_; }
  // Describes the last error for an ERROR frame ("frame of 9999999 bytes exceeds ...").
  const std::string& error() const { return error_; }

 private:
  std::string buf_;
  size_t pos_ = 0;  // start of the unconsumed bytes in buf_
  uint32_t max_body_;
  DecodeStatus failed_ = DecodeStatus::NeedMore;
  std::string error_;
};

}  // namespace ferry::proto
