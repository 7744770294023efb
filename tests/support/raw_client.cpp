// Raw-socket frame client for integration tests (see raw_client.h).
#include "tests/support/raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/hex.h"

namespace ferry::test {

RawSocket::RawSocket(int port, uint32_t max_body, int rcvbuf) : decoder_(max_body) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

RawSocket::RawSocket(int fd, uint32_t max_body, bool)
    : fd_(fd), connected_(true), decoder_(max_body) {}

RawSocket::~RawSocket() {
  if (fd_ >= 0) close(fd_);
}

void RawSocket::send_raw(std::string_view bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

void RawSocket::send(proto::FrameType t, std::string_view body) {
  std::string out;
  proto::encode_frame(out, t, body);
  send_raw(out);
}

std::optional<RawFrame> RawSocket::recv_frame(int timeout_ms) {
  proto::Frame f;
  while (true) {
    auto st = decoder_.next(f);
    if (st == proto::DecodeStatus::Ready) return RawFrame{f.type, std::string(f.body)};
    if (st != proto::DecodeStatus::NeedMore) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = true;
      return std::nullopt;
    }
    decoder_.feed(buf, static_cast<size_t>(n));
  }
}

bool RawSocket::wait_closed(int timeout_ms) {
  while (!closed_) {
    if (!recv_frame(timeout_ms) && !closed_) return false;
  }
  return true;
}

std::string peer_mac(const std::string& key, const std::string& challenge) {
  std::string data = "ferry-peer-v1:" + challenge;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &n);
  return proto::hex_encode(std::string(reinterpret_cast<char*>(out), n));
}

}  // namespace ferry::test
