// Cuts one direction of a TCP stream back into ferry frames (5-byte header: u32 BE body
// length, u8 type; docs/protocol.md §1) so faults act on whole frames. A stream whose header
// is not a ferry header (unknown type, or a length above the bound) is not ferry traffic —
// e.g. HTTP on resd's download port — and from then on passes through as the byte chunks it
// arrives in; such chunks only get the faults that keep a byte stream intact (docs/harness.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ferry::chaos {

struct Unit {
  bool framed = false;  // a whole ferry frame; false: a raw chunk of a non-ferry stream
  uint8_t type = 0;  // frame type when framed
  std::string bytes;  // the frame with its header, or the raw chunk
};

class Reframer {
 public:
  explicit Reframer(uint32_t max_body) : max_body_(max_body) {}
  void feed(const char* data, size_t len);
  // Pops the next complete unit; false when more bytes are needed.
  bool next(Unit& out);
  bool raw() const { return raw_; }
  // Why the stream was judged not to be ferry frames (empty while it still is).
  const std::string& raw_reason() const { return raw_reason_; }
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  std::string buf_;
  size_t pos_ = 0;
  uint32_t max_body_;
  bool raw_ = false;
  std::string raw_reason_;
};

}  // namespace ferry::chaos
