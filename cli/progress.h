// How `ferry send-file` shows an upload: a bar redrawn in place on a terminal, a plain line
// every 10% when stdout is a pipe or file, or one JSON object per event with --json. The
// rate is measured over the last few seconds of this run, so a resumed upload does not count
// the bytes an earlier run sent.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>

namespace ferry::cli {

// Bytes per second over a sliding window of progress samples.
class RateMeter {
 public:
  using Clock = std::chrono::steady_clock;
  void add(Clock::time_point now, uint64_t done);
  // MB/s (10^6 bytes) over the window; 0 until two samples exist.
  double mb_s() const;
  // MB/s from the first sample to the last: the whole run's average.
  double average_mb_s() const;

 private:
  std::deque<std::pair<Clock::time_point, uint64_t>> window_;
  std::pair<Clock::time_point, uint64_t> first_{};
  bool have_first_ = false;
};

class ProgressView {
 public:
  enum class Mode { Bar, Plain, Json };
  // Bar when stdout is a terminal, else Plain; Json when asked.
  static Mode pick_mode(bool json);

  ProgressView(Mode mode, std::string name, std::string local_id)
      : mode_(mode), name_(std::move(name)), local_id_(std::move(local_id)) {}

  void set_message_id(uint64_t id) { message_id_ = id; }
  // Upload connections now and at most (send-file): "connections" and "connections_peak" in
  // the JSON progress and READY lines. Unset (the default): the fields are left out.
  void set_connections(uint32_t now, uint32_t peak) {
    connections_ = now;
    connections_peak_ = peak;
    have_connections_ = true;
  }
  // Words for a download (`ferry download`) instead of an upload.
  void set_download(bool on) { download_ = on; }
  void progress(uint64_t done, uint64_t total);
  // A status change (UPLOADING, READY, FAILED, CANCELLED); err/detail for failures.
  void status(int msg_status, int err, const char* detail);
  // {"type":"resume",...} with --json, else a line on stderr.
  void resumed(uint64_t done, uint64_t total);
  void paused(bool on);
  // The transfer waits on a condition that does not fail it (the server's disk is full, no
  // resource server yet): {"type":"waiting",...} with --json, else a note and a tag. Said once
  // per change, not at every retry; FERRY_OK clears it.
  void waiting(int err, const char* detail);
  // A line on stderr (warnings, "offline: ..."), keeping the bar intact below it.
  void note(const std::string& text);
  // Ends the bar's line so what follows starts on a fresh one.
  void finish();
  double average_mb_s() const { return meter_.average_mb_s(); }
  // Clears the current status tag in the bar ("offline", "paused").
  void set_tag(const std::string& tag);

 private:
  void draw(bool force);
  void clear_bar();
  std::string bar_line(int width) const;

  Mode mode_;
  std::string name_;
  std::string local_id_;
  uint64_t message_id_ = 0;
  bool have_connections_ = false;
  uint32_t connections_ = 0, connections_peak_ = 0;
  bool download_ = false;
  uint64_t done_ = 0;
  uint64_t total_ = 0;
  bool have_progress_ = false;
  int last_plain_decile_ = -1;
  bool bar_shown_ = false;
  int waiting_err_ = 0;
  std::string tag_;
  RateMeter meter_;
  RateMeter::Clock::time_point last_draw_{};
};

}  // namespace ferry::cli
