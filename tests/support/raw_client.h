// A blocking TCP client that speaks ferry's frame protocol with poll() timeouts, for the
// raw-socket integration tests of ferry-chatd and ferry-resd. No sleeps: every wait has a
// deadline. Each test wraps it with its own frame type and handshake (chatd's tests parse
// bodies as JSON and read a challenge; resd's keep raw bodies).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/frame.h"

namespace ferry::test {

struct RawFrame {
  proto::FrameType type;
  std::string body;
};

class RawSocket {
 public:
  // Connects to 127.0.0.1:port; `rcvbuf` > 0 shrinks SO_RCVBUF first (slow-reader tests).
  // `max_body` bounds the frames it will decode.
  RawSocket(int port, uint32_t max_body, int rcvbuf = 0);
  // Adopts an already connected socket (one a test accepted).
  RawSocket(int fd, uint32_t max_body, bool adopt);
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return connected_; }
  bool closed() const { return closed_; }

  void send_raw(std::string_view bytes);
  void send(proto::FrameType t, std::string_view body);
  // Next frame, or nullopt on EOF/reset (closed() then says true), a bad frame, or timeout.
  std::optional<RawFrame> recv_frame(int timeout_ms);
  // True when the server closes the connection within the timeout (pending frames dropped).
  bool wait_closed(int timeout_ms);

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  proto::FrameDecoder decoder_;
};

// hex(HMAC-SHA256(key, "ferry-peer-v1:" + challenge)): the chat link's peer_auth mac.
std::string peer_mac(const std::string& key, const std::string& challenge);

}  // namespace ferry::test
