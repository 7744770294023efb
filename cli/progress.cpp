#include "cli/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/format.h"
#include "cli/output.h"

namespace ferry::cli {
namespace {

constexpr auto kRateWindow = std::chrono::seconds(3);
constexpr auto kRedrawEvery = std::chrono::milliseconds(100);

double mb_between(const std::pair<RateMeter::Clock::time_point, uint64_t>& a,
                  const std::pair<RateMeter::Clock::time_point, uint64_t>& b) {
  double s = std::chrono::duration<double>(b.first - a.first).count();
  if (s <= 0 || b.second < a.second) return 0;
  return double(b.second - a.second) / 1e6 / s;
}

int terminal_width() {
  struct winsize ws {};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40) return ws.ws_col;
  return 80;
}

}  // namespace

void RateMeter::add(Clock::time_point now, uint64_t done) {
  if (!have_first_) {
    first_ = {now, done};
    have_first_ = true;
  }
  window_.emplace_back(now, done);
  while (window_.size() > 2 && now - window_.front().first > kRateWindow) window_.pop_front();
}

double RateMeter::mb_s() const {
  if (window_.size() < 2) return 0;
  return mb_between(window_.front(), window_.back());
}

double RateMeter::average_mb_s() const {
  if (window_.empty()) return 0;
  return mb_between(first_, window_.back());
}

ProgressView::Mode ProgressView::pick_mode(bool json) {
  if (json) return Mode::Json;
  return isatty(STDOUT_FILENO) ? Mode::Bar : Mode::Plain;
}

void ProgressView::progress(uint64_t done, uint64_t total) {
  done_ = done;
  total_ = total;
  have_progress_ = true;
  meter_.add(RateMeter::Clock::now(), done);
  switch (mode_) {
    case Mode::Json: {
      cJSON* j = make_progress_json(local_id_.c_str(), message_id_, done, total, meter_.mb_s());
      if (have_connections_) {
        cJSON_AddNumberToObject(j, "connections", connections_);
        cJSON_AddNumberToObject(j, "connections_peak", connections_peak_);
      }
      print_json_line(j);
      break;
    }
    case Mode::Bar:
      draw(done == total);
      break;
    case Mode::Plain: {
      int decile = total ? int(double(done) * 10.0 / double(total)) : 10;
      if (decile == last_plain_decile_) break;
      last_plain_decile_ = decile;
      std::printf("%s: %3d%%  %s of %s  %.1f MB/s\n", name_.c_str(), decile * 10,
                  format_bytes(done).c_str(), format_bytes(total).c_str(), meter_.mb_s());
      std::fflush(stdout);
      break;
    }
  }
}

void ProgressView::status(int msg_status, int err, const char* detail) {
  if (mode_ == Mode::Json) {
    cJSON* j = make_status_json(local_id_.c_str(), message_id_, msg_status, err, detail);
    if (msg_status == FERRY_MSG_READY) {
      cJSON_AddNumberToObject(j, "size", double(total_));
      cJSON_AddNumberToObject(j, "mb_s", std::round(average_mb_s() * 10.0) / 10.0);
      if (have_connections_) cJSON_AddNumberToObject(j, "connections_peak", connections_peak_);
    }
    print_json_line(j);
  }
}

void ProgressView::resumed(uint64_t done, uint64_t total) {
  if (mode_ == Mode::Json) {
    cJSON* j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "resume");
    cJSON_AddStringToObject(j, "id", local_id_.c_str());
    cJSON_AddNumberToObject(j, "message_id", double(message_id_));
    cJSON_AddNumberToObject(j, "done", double(done));
    cJSON_AddNumberToObject(j, "total", double(total));
    print_json_line(j);
    return;
  }
  unsigned pct = total ? unsigned(double(done) * 100.0 / double(total)) : 0;
  if (download_) {
    note("resuming download of " + name_ + ": " + format_bytes(done) + " of " +
         format_bytes(total) + " (" + std::to_string(pct) + "%) already on disk");
    return;
  }
  note("resuming upload " + local_id_ + " of " + name_ + ": the server already held " +
       format_bytes(done) + " of " + format_bytes(total) + " (" + std::to_string(pct) + "%)");
}

void ProgressView::paused(bool on) {
  if (mode_ == Mode::Json) {
    cJSON* j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "paused");
    cJSON_AddStringToObject(j, "id", local_id_.c_str());
    cJSON_AddBoolToObject(j, "paused", on);
    print_json_line(j);
    return;
  }
  set_tag(on ? "paused" : "");
  if (mode_ == Mode::Plain) note(on ? "paused" : "resumed");
}

void ProgressView::waiting(int err, const char* detail) {
  if (err == waiting_err_) return;
  waiting_err_ = err;
  if (mode_ == Mode::Json) {
    cJSON* j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "waiting");
    cJSON_AddStringToObject(j, "id", local_id_.c_str());
    cJSON_AddStringToObject(j, "error", err == FERRY_OK ? "" : ferry_err_name(err));
    std::string why = err == FERRY_OK ? "" : ferry_strerror(err);
    if (err != FERRY_OK && detail && *detail) why += std::string(" (") + detail + ")";
    cJSON_AddStringToObject(j, "detail", why.c_str());
    print_json_line(j);
    return;
  }
  if (err == FERRY_OK) return set_tag("");
  std::string why = ferry_strerror(err);
  if (detail && *detail) why += std::string(" (") + detail + ")";
  note("waiting: " + why);
  set_tag("waiting");
}

void ProgressView::set_tag(const std::string& tag) {
  tag_ = tag;
  if (mode_ == Mode::Bar && have_progress_) draw(true);
}

void ProgressView::note(const std::string& text) {
  clear_bar();
  std::fprintf(stderr, "ferry: %s\n", text.c_str());
  if (mode_ == Mode::Bar && have_progress_) draw(true);
}

void ProgressView::finish() {
  if (mode_ == Mode::Bar && bar_shown_) {
    draw(true);
    std::fputs("\n", stdout);
    std::fflush(stdout);
    bar_shown_ = false;
  }
}

void ProgressView::clear_bar() {
  if (mode_ != Mode::Bar || !bar_shown_) return;
  std::fputs("\r\x1b[K", stdout);
  std::fflush(stdout);
}

std::string ProgressView::bar_line(int width) const {
  double frac = total_ ? double(done_) / double(total_) : 1.0;
  double rate = meter_.mb_s();
  double eta = rate > 0 ? double(total_ - std::min(done_, total_)) / 1e6 / rate : -1;
  char tail[160];
  std::snprintf(tail, sizeof tail, " %3d%%  %9s / %-9s  %6.1f MB/s  ETA %s%s%s", int(frac * 100),
                format_bytes(done_).c_str(), format_bytes(total_).c_str(), rate,
                format_duration(eta).c_str(), tag_.empty() ? "" : "  ", tag_.c_str());
  std::string name = name_.size() > 24 ? name_.substr(0, 23) + "~" : name_;
  int cells = width - int(name.size()) - int(std::string(tail).size()) - 4;
  std::string bar;
  if (cells >= 10) {
    int full = int(frac * cells);
    bar = " [" + std::string(size_t(full), '#') + std::string(size_t(cells - full), '.') + "]";
  }
  return name + bar + tail;
}

void ProgressView::draw(bool force) {
  auto now = RateMeter::Clock::now();
  if (!force && bar_shown_ && now - last_draw_ < kRedrawEvery) return;
  last_draw_ = now;
  std::string line = bar_line(terminal_width() - 1);
  std::printf("\r%s\x1b[K", line.c_str());
  std::fflush(stdout);
  bar_shown_ = true;
}

}  // namespace ferry::cli
