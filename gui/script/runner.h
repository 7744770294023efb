// Plays a parsed script against the running app, one step per frame. Waits are checked
// against the AppModel; everything a person would do (log in, type, send, drop, click) goes
// through ScriptHost, which the app implements with the same code paths its widgets use.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "gui/model/model.h"
#include "gui/script/script.h"

namespace ferry::gui {

class ScriptHost {
 public:
  virtual ~ScriptHost() = default;
  virtual AppModel& model() = 0;
  // Performs a non-wait action (login, open, type, send, drop, download, retry, screenshot,
  // dump, logout). Returns false with *err when it cannot.
  virtual bool perform(const Action& a, std::string* err) = 0;
  // True when no thumbnail is waiting to be decoded or uploaded.
  virtual bool textures_idle() = 0;
  // True while an action is still completing over the next frames (a screenshot being taken);
  // the script waits for it before going on.
  virtual bool busy() { return false; }
  // Frames the in-app video player has shown since it opened (0 when closed).
  virtual uint64_t video_frames() { return 0; }
};

class ScriptRunner {
 public:
  enum class State { kRunning, kDone, kFailed };
  using Clock = std::chrono::steady_clock;

  explicit ScriptRunner(std::vector<Action> actions) : actions_(std::move(actions)) {}
  // Runs the actions that can run now; call once per frame after the frame was drawn.
  State step(ScriptHost& host, Clock::time_point now);
  const std::string& error() const { return error_; }
  bool quit_requested() const { return quit_; }
  // True while a wait is pending (the app then polls more often instead of sleeping long).
  bool waiting() const { return wait_started_; }

  // The bubble a wait or a click refers to: the newest in the open conversation whose text or
  // media name contains `text` ("" = the newest bubble). Exposed for tests.
  static Message* find_bubble(AppModel& m, const std::string& text);
  // Whether a wait's condition holds now; *why says what was seen (for the failure message).
  static bool wait_holds(const Action& a, ScriptHost& host, std::string* why);

 private:
  std::vector<Action> actions_;
  size_t next_ = 0;
  std::string error_;
  bool quit_ = false;
  bool wait_started_ = false;
  Clock::time_point deadline_;
  double timeout_s_ = 60;
  int frames_left_ = 0;
};

}  // namespace ferry::gui
