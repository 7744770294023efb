// One direction of an emulated link: packets in with a timestamp, packets out at their
// release time. Sans-I/O: no fds, no clock, no syscalls; the caller says what time it is (in
// microseconds on any monotonic clock) and moves the bytes. ferry-link's adapter
// (harness/link/uv/forwarder.cpp) reads a TUN device into recv() and writes what poll_send()
// returns to the other TUN device; the unit tests drive it on a virtual clock.
//
// Pipeline per packet, in this order (the same order netem applies):
//   0. `drop-first N`: the direction's first N packets are lost;
//   1. loss: random (`loss P`) or Gilbert-Elliott (`loss gemodel ...`);
//   2. duplication: the packet becomes two copies;
//   3. rate cap: each copy waits in a FIFO for a token bucket; a copy that finds `limit`
//      copies already waiting is tail-dropped;
//   4. delay line: release = leaving the rate cap + delay + jitter. Releases never go
//      backwards, so jitter alone does not reorder a stream (unlike netem, where it does and
//      TCP then sees reordering nobody asked for); a packet picked by `reorder` skips the
//      delay and the ordering, and so overtakes the packets on the wire.
//
// Determinism: every packet draws exactly five numbers from the direction's PRNG (loss, state
// change, duplicate, reorder, jitter), whatever the spec. The fate of packet n therefore
// depends only on the seed, n, the spec and the arrival times; never on how the adapter
// batches reads or when it happens to call poll_send().
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "harness/common/prng.h"
#include "harness/link/core/spec.h"

namespace ferry::link {

struct LinkStats {
  uint64_t packets_in = 0, bytes_in = 0;
  // Handed out by poll_send (duplicates included).
  uint64_t packets_out = 0, bytes_out = 0;
  uint64_t drop_random = 0;  // `loss P`, or a Gilbert-Elliott loss in the good state
  uint64_t drop_burst = 0;   // a Gilbert-Elliott loss in the bad state
  uint64_t drop_rate = 0;    // tail drop: `limit` copies were already waiting for the rate cap
  uint64_t drop_queue = 0;   // the hard cap (kMaxHeld) was reached
  uint64_t drop_first = 0;   // `drop-first N`: one of the direction's first N packets
  // TCP connections opened this way: distinct IPv4 TCP address/port pairs seen in a SYN
  // without ACK, lost or not (a SYN sent again on the same connection counts once).
  uint64_t syn_flows = 0;
  uint64_t duplicated = 0;   // extra copies made
  uint64_t reordered = 0;    // packets sent ahead of the delay line
  uint64_t delayed = 0;      // copies released later than they arrived
  uint64_t max_held = 0;     // most copies held at once
};

class LinkCore {
 public:
  // Copies held at once beyond which new copies are dropped, whatever the spec: bounds memory
  // when a long delay meets a fast sender (50,000 full-size packets are about 75 MB).
  static constexpr size_t kMaxHeld = 50000;

  LinkCore(const LinkSpec& spec, uint64_t seed);

  // A packet arrived at now_us. Call once per packet read, with non-decreasing times.
  void recv(uint64_t now_us, const uint8_t* data, size_t size);

  // The next packet due at or before now_us, moved into `out`. Call until it returns false,
  // after recv() and whenever poll_timeout() has passed.
  bool poll_send(uint64_t now_us, std::vector<uint8_t>& out);

  // When the next packet is due (UINT64_MAX when nothing is held). Arm a timer for it.
  uint64_t poll_timeout() const;

  size_t held() const { return line_.size(); }
  const LinkStats& stats() const { return stats_; }
  const LinkSpec& spec() const { return spec_; }

 private:
  struct Held {
    uint64_t release_us;
    uint64_t seq;  // arrival order, to break ties (FIFO among equal release times)
    std::vector<uint8_t> bytes;
  };
  // Heap order for std::push_heap/pop_heap: the earliest release (then the earliest arrival)
  // on top. A hand-kept heap rather than std::priority_queue so the bytes can be moved out.
  struct Later {
    bool operator()(const Held& a, const Held& b) const {
      return a.release_us != b.release_us ? a.release_us > b.release_us : a.seq > b.seq;
    }
  };

  bool lose(double u_loss, double u_state);
  void note_syn(const uint8_t* data, size_t size);
  // When a copy of `size` bytes arriving at now_us leaves the rate cap.
  uint64_t rate_departure(uint64_t now_us, size_t size);
  void hold(uint64_t now_us, uint64_t leave_us, int64_t jitter_us, bool reorder,
            const uint8_t* data, size_t size);

  LinkSpec spec_;
  harness::Prng prng_;
  bool ge_bad_ = false;

  // Token bucket, in bit-microseconds (one bit of credit = 1e6 units) so that integer
  // arithmetic is exact: credit grows by rate_bps units per microsecond.
  uint64_t bucket_max_ = 0;
  uint64_t bucket_ = 0;
  uint64_t bucket_at_us_ = 0;
  uint64_t link_free_us_ = 0;        // when the last copy left the rate cap
  std::deque<uint64_t> rate_queue_;  // departure times of copies waiting for the cap

  uint64_t floor_us_ = 0;  // latest release of an in-order copy: releases never go below it
  uint64_t seq_ = 0;
  std::vector<Held> line_;  // a heap ordered by Later
  std::set<std::array<uint8_t, 12>> syn_seen_;  // addresses and ports of SYNs (syn_flows)
  LinkStats stats_;
};

// The stats as a JSON object (no trailing newline), for ferry-link's exit report.
std::string stats_json(const LinkStats& s, const std::string& spec_text);

}  // namespace ferry::link
