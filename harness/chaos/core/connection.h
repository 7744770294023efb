// The per-connection decision maker of ferry-chaos, sans I/O: it is fed the bytes read in each
// direction with a virtual "now" (microseconds) and answers what to write, when, and whether to
// cut. The libuv adapter (harness/chaos/uv/) only carries out its answers.
//
// Determinism: each direction draws from its own xoshiro stream derived from (run seed,
// connection ordinal, direction), and every unit (frame) draws the same fixed set of numbers
// whatever the settings. So the decisions for the n-th frame in one direction of the k-th
// connection depend only on the seed, k, n and the settings — not on how the kernel split the
// bytes into reads, nor on how the two directions interleaved in time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/chaos/core/faults.h"
#include "harness/chaos/core/prng.h"
#include "harness/chaos/core/reframer.h"
#include "harness/chaos/core/stats.h"
#include "proto/upload_frames.h"

namespace ferry::chaos {

// Bytes to write in direction `dir` (Up: to the server) no earlier than `at_us`. Within one
// direction emits come in order and their times never decrease: a stream stays a stream.
struct Emit {
  Dir dir;
  uint64_t at_us;
  std::string bytes;
};

struct ConnOutput {
  std::vector<Emit> emits;
  bool cut = false;  // reset both sockets (RST) at cut_at_us, after the emits before it
  uint64_t cut_at_us = 0;
  std::vector<std::string> log;  // one line per injected fault
};

// CHUNK (0x12) payload starts after the frame header and the slot/index/xxh128 prefix
// (docs/protocol-upload.md §3); corruption only touches bytes from here on.
inline constexpr size_t kChunkPayloadOffset = proto::kChunkFramePrefixBytes;

class ConnCore {
 public:
  // `faults` and `stats` belong to the proxy and outlive the connection; faults may change
  // between calls (schedules, control interface) and apply from the next frame on.
  ConnCore(const Faults& faults, Stats& stats, uint64_t run_seed, uint64_t ordinal,
           uint32_t max_body);

  void on_bytes(Dir d, uint64_t now_us, const char* data, size_t len, ConnOutput& out);
  // Releases reordered frames whose hold time ran out.
  void on_timer(uint64_t now_us, ConnOutput& out);
  // When on_timer next has work (UINT64_MAX: none).
  uint64_t next_timer_us() const;
  // A cut from outside (cut_now): RST at once.
  void cut_now(uint64_t now_us, ConnOutput& out);

  bool is_cut() const { return cut_; }
  bool blackholed(Dir d) const { return st_[int(d)].blackholed; }
  uint64_t ordinal() const { return ordinal_; }
  bool raw(Dir d) const { return st_[int(d)].reframer.raw(); }

 private:
  // The fixed draws of one unit, taken before any decision (see the determinism note).
  struct Draws {
    double cut, drop, dup, reorder, corrupt, jitter;
    uint64_t aux;
  };
  struct Held {
    bool active = false;
    std::vector<std::string> copies;  // the frame, twice if it was also duplicated
    double jitter = 0;
    int release_after = 0;  // frames still to pass it
    uint64_t deadline_us = 0;
  };
  struct DirState {
    explicit DirState(uint32_t max_body) : reframer(max_body) {}
    Reframer reframer;
    Prng prng;
    uint64_t units = 0;
    uint64_t forwarded = 0;  // bytes handed on (counts towards cut/blackhole thresholds)
    uint64_t last_at_us = 0;
    uint64_t rate_free_us = 0;
    bool blackholed = false;
    bool raw_logged = false;
    Held held;
  };

  void handle_unit(Dir d, uint64_t now_us, Unit& u, ConnOutput& out);
  void forward(Dir d, uint64_t now_us, const std::string& bytes, double jitter, ConnOutput& out);
  void release_held(Dir d, uint64_t now_us, ConnOutput& out);
  void corrupt_payload(std::string& frame, uint64_t aux, std::string& note);
  // Ends the connection: RST at at_us, after what this direction already scheduled.
  void do_cut(Dir d, uint64_t at_us, ConnOutput& out);
  void log(ConnOutput& out, Dir d, const Unit* u, const std::string& what);

  const Faults& faults_;
  Stats& stats_;
  uint64_t ordinal_;
  bool cut_ = false;
  DirState st_[2];
};

}  // namespace ferry::chaos
