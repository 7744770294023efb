// A TCP relay for the upload end-to-end tests: it sits between the SDK and ferry-resd (resd
// advertises the relay's address to the chat server with --advertise), and lets a test
// throttle the upload (bytes per second towards resd), hold it (forward nothing towards
// resd), or cut every connection at once. Throttling is what makes "kill at 50%" reliable on
// loopback, where an unthrottled 64 MiB upload ends within a second: the test can see 50% in
// the sender's progress and act before the rest arrives, without racing the clock.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

namespace ferry::test {

class UploadProxy {
 public:
  UploadProxy();  // listens on 127.0.0.1:0 at once; forwards once a target is set
  ~UploadProxy();
  UploadProxy(const UploadProxy&) = delete;
  UploadProxy& operator=(const UploadProxy&) = delete;

  int port() const { return port_; }
  void set_target(int port) { target_port_ = port; }
  void set_rate(uint64_t bytes_per_s) { rate_ = bytes_per_s; }  // 0 = unlimited
  void hold(bool on) { held_ = on; }
  void cut() { cut_generation_++; }  // closes every relayed connection
  // Bytes forwarded towards resd so far.
  uint64_t upstream_bytes() const { return upstream_bytes_; }
  int connections_accepted() const { return accepted_; }
  // Relayed connections still open: a client that died is closed here only once every byte
  // it had sent (still in the relay's socket buffers) went on to resd.
  int connections_open() const { return open_; }

 private:
  void loop();

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> target_port_{0};
  std::atomic<uint64_t> rate_{0};
  std::atomic<bool> held_{false};
  std::atomic<int> cut_generation_{0};
  std::atomic<uint64_t> upstream_bytes_{0};
  std::atomic<int> accepted_{0};
  std::atomic<int> open_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ferry::test
