// Moves IP packets between the two TUN devices through two LinkCores (a->b and b->a), on a
// libuv loop: uv_poll on each TUN fd, and a timerfd (also under uv_poll) armed for the next
// release. A timerfd rather than uv_timer because uv_timer counts whole milliseconds, and a
// rate cap of 100 mbit/s releases a full-size packet every 120 us.
//
// Checklist:
//   [x] reads up to kReadBatch packets per wake-up and side, so one busy side cannot starve
//       the other
//   [x] releases everything due, then arms the timer for the earliest next release
//   [x] write failures on a TUN fd are counted (write_errors) and the packet is dropped
//   [x] TCP offload (tcp_segments.h): TSO super-packets are cut into wire segments before
//       the LinkCore and joined again after it, so a syscall moves up to 44 segments
//   [ ] no back-pressure towards the sender: past LinkCore::kMaxHeld, or a full rate queue,
//       packets are dropped, as a router would
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "harness/link/core/link_core.h"
#include "harness/link/core/tcp_segments.h"

namespace ferry::link {

// CLOCK_MONOTONIC in microseconds: the clock the LinkCores and the timerfd share.
uint64_t monotonic_us();

class Forwarder {
 public:
  static constexpr int kReadBatch = 256;

  // The fds stay owned by the caller and must outlive the forwarder's close().
  Forwarder(uv_loop_t* loop, int tun_a, int tun_b, LinkCore& a_to_b, LinkCore& b_to_a);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Starts polling. Returns 0 or a libuv error code.
  int start();
  // Stops and closes the handles; `done` runs once they are closed.
  void close(std::function<void()> done);

  uint64_t write_errors_a_to_b() const { return write_errors_[0]; }
  uint64_t write_errors_b_to_a() const { return write_errors_[1]; }

 private:
  static void on_tun(uv_poll_t* h, int status, int events);
  static void on_timer(uv_poll_t* h, int status, int events);
  static void on_closed(uv_handle_t* h);
  void read_side(int from_fd, LinkCore& core);
  void pump();
  void release(LinkCore& core, int to_fd, uint64_t& write_errors, uint64_t now);
  void arm_timer();

  uv_loop_t* loop_;
  int fd_[2];
  LinkCore* core_[2];  // core_[0]: a->b (read from fd_[0]), core_[1]: b->a
  int timer_fd_ = -1;
  uint64_t armed_us_ = UINT64_MAX;
  uv_poll_t poll_[2];
  uv_poll_t timer_poll_;
  int open_handles_ = 0;
  std::function<void()> closed_;
  uint64_t write_errors_[2] = {0, 0};
  std::vector<uint8_t> buf_;  // one read: vnet header, then the packet
  std::vector<uint8_t> seg_;  // one segment out of a LinkCore
  std::vector<uint8_t> out_;  // one write: vnet header, then the (joined) packet
  SegmentJoiner joiner_;
};

}  // namespace ferry::link
