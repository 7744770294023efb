#include "gui/script/runner.h"

#include <cstdlib>

namespace ferry::gui {

namespace {

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

const char* const kConnNames[] = {"OFFLINE", "CONNECTING", "CONNECTED", "ONLINE"};

std::string conn_name(int state) { return state >= 0 && state <= 3 ? kConnNames[state] : "?"; }

}  // namespace

Message* ScriptRunner::find_bubble(AppModel& m, const std::string& text) {
  Conversation* c = m.find(m.open_peer());
  if (!c || c->messages.empty()) return nullptr;
  for (auto it = c->messages.rbegin(); it != c->messages.rend(); ++it) {
    if (text.empty()) return &*it;
    if (contains(it->is_media() ? it->name : it->text, text)) return &*it;
  }
  return nullptr;
}

bool ScriptRunner::wait_holds(const Action& a, ScriptHost& host, std::string* why) {
  AppModel& m = host.model();
  const Connection& c = m.connection();
  *why = "connection " + conn_name(c.state) + (c.detail.empty() ? "" : " (" + c.detail + ")");
  switch (a.wait) {
    case WaitKind::kConnected:
      return c.state == FERRY_CONN_CONNECTED || c.state == FERRY_CONN_ONLINE;
    case WaitKind::kOnline:
      return c.online() && !m.user().empty();
    case WaitKind::kOffline:
      return c.state == FERRY_CONN_OFFLINE || c.state == FERRY_CONN_CONNECTING;
    case WaitKind::kLogin:
      if (m.auth_result != 1 && m.auth_result != 0) {
        *why = "login failed: " + m.auth_detail;
      }
      return m.auth_result == 0;
    case WaitKind::kSynced:
      return m.synced();
    case WaitKind::kConversation:
      *why = std::to_string(m.conversation_count()) + " conversations";
      return m.find(a.args[0]) != nullptr;
    case WaitKind::kVideo:
      *why = "the video player showed " + std::to_string(host.video_frames()) + " frames";
      return double(host.video_frames()) >= std::strtod(a.args[0].c_str(), nullptr);
    case WaitKind::kThumbnails:
      *why = "thumbnails still decoding";
      return host.textures_idle();
    default:
      break;
  }
  bool two = a.wait == WaitKind::kStatus || a.wait == WaitKind::kProgress;
  std::string text = two ? (a.args.size() > 1 ? a.args[1] : "") : (a.args.empty() ? "" : a.args[0]);
  Message* b = find_bubble(m, text);
  if (!b) {
    *why = "no bubble" + (text.empty() ? std::string() : " containing \"" + text + "\"") +
           " in the open conversation '" + m.open_peer() + "'";
    return false;
  }
  *why = std::string("the bubble is ") + status_name(b->status);
  if (a.wait == WaitKind::kMessage) return true;
  if (a.wait == WaitKind::kStatus) {
    MsgStatus want;
    parse_status(a.args[0], &want);
    return b->status == want;
  }
  bool dl = b->download != DownloadState::kNone;
  double f = dl ? b->download_fraction() : b->upload_fraction();
  *why += ", download state " + std::to_string(int(b->download)) + ", " +
          (dl ? "download " : "upload ") + std::to_string(int(f * 100)) + "%";
  if (a.wait == WaitKind::kProgress) return f * 100 >= std::strtod(a.args[0].c_str(), nullptr);
  if (a.wait == WaitKind::kPaused)
    return dl ? b->download == DownloadState::kPaused : b->upload_paused;
  return b->download == DownloadState::kDone;  // kDownloaded
}

ScriptRunner::State ScriptRunner::step(ScriptHost& host, Clock::time_point now) {
  if (!error_.empty()) return State::kFailed;
  if (frames_left_ > 0) {
    frames_left_--;
    return State::kRunning;
  }
  if (host.busy()) return State::kRunning;
  while (next_ < actions_.size()) {
    const Action& a = actions_[next_];
    std::string why;
    switch (a.op) {
      case Op::kWait:
        if (!wait_started_) {
          wait_started_ = true;
          deadline_ = now + std::chrono::milliseconds(long(timeout_s_ * 1000));
        }
        if (!wait_holds(a, host, &why)) {
          if (now < deadline_) return State::kRunning;
          error_ = "line " + std::to_string(a.line) + ": `" + a.source + "` timed out after " +
                   std::to_string(int(timeout_s_)) + " s: " + why;
          return State::kFailed;
        }
        wait_started_ = false;
        break;
      case Op::kTimeout:
        timeout_s_ = std::strtod(a.args[0].c_str(), nullptr);
        break;
      case Op::kFrames:
        frames_left_ = std::atoi(a.args[0].c_str());
        next_++;
        return State::kRunning;
      case Op::kQuit:
        quit_ = true;
        next_ = actions_.size();
        return State::kDone;
      default:
        if (!host.perform(a, &why)) {
          error_ = "line " + std::to_string(a.line) + ": `" + a.source + "` failed: " + why;
          return State::kFailed;
        }
        if (a.op == Op::kScreenshot || a.op == Op::kSend || a.op == Op::kOpen ||
            a.op == Op::kDrop || a.op == Op::kView || a.op == Op::kPlay) {
          // Let the next frame show what the action did before the script goes on.
          next_++;
          return State::kRunning;
        }
    }
    next_++;
  }
  return State::kDone;
}

}  // namespace ferry::gui
