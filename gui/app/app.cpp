#include "gui/app/app.h"

#include <imgui.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "gui/app/state_dump.h"
#include "gui/platform/quit_signal.h"
#include "gui/render/screenshot.h"
#include "gui/screens/screens.h"

namespace ferry::gui {

App::App(Args args) : args_(std::move(args)) { ui_.server = args_.server; }

App::~App() {
  // GL objects go while the context exists; the window (and GLFW) last.
  script_.reset();
  video_.reset();
  textures_.reset();
}

bool App::setup(std::string* why) {
  if (!window_.open(args_.width, args_.height, "ferry", why)) return false;
  if (!glue_.init(window_.handle(), window_.glsl_version(), args_.font)) {
    *why = "cannot initialise Dear ImGui's OpenGL renderer";
    return false;
  }
  textures_ = std::make_unique<TextureCache>(256);
  ui_.textures = textures_.get();
  video_ = std::make_unique<VideoPlayer>();
  ui_.video = video_.get();
  if (link_.start(args_.server, args_.state, why) != FERRY_OK) return false;
  window_.watch_fd(link_.event_fd());
  if (!args_.script.empty()) {
    std::ifstream f(args_.script);
    if (!f) {
      *why = "cannot read script " + args_.script;
      return false;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    std::vector<Action> actions;
    std::string err;
    if (!parse_script(ss.str(), &actions, &err)) {
      *why = args_.script + ": " + err;
      return false;
    }
    script_ = std::make_unique<ScriptRunner>(std::move(actions));
  }
  return true;
}

void App::auto_login() {
  if (login_tried_ || args_.user.empty() || !model_.user().empty()) return;
  if (model_.connection().state != FERRY_CONN_CONNECTED) return;
  login_tried_ = true;
  link_.login(args_.user, args_.password, args_.create);
}

void App::draw_root() {
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(vp->WorkPos);
  ImGui::SetNextWindowSize(vp->WorkSize);
  ImGui::Begin("ferry", nullptr,
               ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove |
                   ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_NoSavedSettings);
  draw_banner(model_);
  if (model_.user().empty()) {
    draw_login(ui_, model_, link_);
  } else {
    ImGui::BeginChild("conversations", ImVec2(280, 0), true);
    draw_conversations(ui_, model_, link_);
    ImGui::EndChild();
    ImGui::SameLine();
    ImGui::BeginChild("chat", ImVec2(0, 0), true);
    draw_chat(ui_, model_, link_);
    ImGui::EndChild();
  }
  ImGui::End();
}

void App::frame() {
  for (const std::string& path : window_.take_drops()) {
    if (model_.open_peer().empty())
      model_.notice = "open a conversation before dropping files";
    else
      compose_attach(ui_, path);
  }
  link_.drain();
  window_.ack_fd();
  textures_->upload_ready();
  auto_login();
  glue_.begin_frame();
  draw_root();
  glue_.end_frame();
  if (screenshot_in_frames_ == 0) {
    int w = 0, h = 0;
    window_.framebuffer_size(&w, &h);
    std::string why;
    if (!save_screenshot(screenshot_path_, w, h, &why))
      failure_ = "screenshot: " + why;
    else
      std::fprintf(stderr, "ferry-gui: screenshot %s (%dx%d)\n", screenshot_path_.c_str(), w, h);
  }
  if (screenshot_in_frames_ >= 0) screenshot_in_frames_--;
  window_.swap();
}

bool App::textures_idle() { return !textures_->busy(); }

bool App::perform(const Action& a, std::string* err) {
  const std::string peer = model_.open_peer();
  switch (a.op) {
    case Op::kLogin:
    case Op::kRegister:
      ui_.user = a.args[0];
      ui_.password = a.args[1];
      if (link_.login(a.args[0], a.args[1], a.op == Op::kRegister) != FERRY_OK) {
        *err = model_.auth_detail;
        return false;
      }
      return true;
    case Op::kLogout:
      link_.logout();
      return true;
    case Op::kOpen:
      link_.open(a.args[0]);
      ui_.stick_to_bottom = true;
      ui_.scroll_to_bottom_frames = 2;
      return true;
    case Op::kType:
      ui_.compose += a.args[0];
      return true;
    case Op::kSend:
      if (peer.empty()) return *err = "no open conversation", false;
      if (compose_send(ui_, link_, peer) == 0)
        return *err = "nothing sent: " + model_.notice, false;
      return true;
    case Op::kDrop:
      window_.push_drop(a.args[0]);  // the same queue GLFW's drop callback fills
      return true;
    case Op::kDownload:
    case Op::kRetry: {
      Message* m = ScriptRunner::find_bubble(model_, a.args.empty() ? "" : a.args[0]);
      if (!m) return *err = "no such bubble in the open conversation", false;
      int rc = a.op == Op::kDownload ? link_.download(*m) : link_.retry(*m);
      if (rc != FERRY_OK) return *err = ferry_strerror(rc), false;
      return true;
    }
    case Op::kPause: {
      Message* m = ScriptRunner::find_bubble(model_, a.args.empty() ? "" : a.args[0]);
      if (!m) return *err = "no such bubble in the open conversation", false;
      int rc = link_.toggle_pause(*m);  // what a click on the ring does
      if (rc != FERRY_OK) return *err = ferry_strerror(rc), false;
      return true;
    }
    case Op::kView:
    case Op::kPlay: {
      Message* m = ScriptRunner::find_bubble(model_, a.args.empty() ? "" : a.args[0]);
      MediaKind want = a.op == Op::kView ? MediaKind::kImage : MediaKind::kVideo;
      if (!m || m->kind != want || m->download != DownloadState::kDone)
        return *err = "no downloaded bubble like that in the open conversation", false;
      open_downloaded(ui_, *m);
      return true;
    }
    case Op::kScreenshot:
      screenshot_path_ = a.args[0];
      screenshot_in_frames_ = 2;  // let layout settle for two frames first
      return true;
    case Op::kDump: {
      std::ofstream f(a.args[0], std::ios::trunc);
      f << state_dump_json(model_);
      if (!f) return *err = "cannot write " + a.args[0], false;
      return true;
    }
    default:
      *err = "not an action";
      return false;
  }
}

int App::run() {
  std::string why;
  if (!setup(&why)) {
    std::fprintf(stderr, "ferry-gui: %s\n", why.c_str());
    return 1;
  }
  if (args_.bench_frames > 0) return run_bench();
  install_quit_signals();
  int extra_frames = 2;
  while (!window_.should_close() && !quit_signalled()) {
    frame();
    if (!failure_.empty()) break;
    if (script_) {
      ScriptRunner::State st = script_->step(*this, ScriptRunner::Clock::now());
      if (st == ScriptRunner::State::kFailed) {
        failure_ = script_->error();
        break;
      }
      if (st == ScriptRunner::State::kDone && screenshot_in_frames_ < 0) {
        if (args_.screenshot.empty() || screenshot_path_ == args_.screenshot) break;
        screenshot_path_ = args_.screenshot;
        screenshot_in_frames_ = 2;
      }
      window_.wait(0.01);  // a script polls its waits; a person's app sleeps below
      continue;
    }
    // Draw a couple of frames after anything happened (ImGui settles hover and layout in
    // the frame after an input), then sleep until input, a ferry event or 2 s.
    if (extra_frames > 0) {
      extra_frames--;
      window_.wait(0);
    } else {
      window_.wait(2.0);
      extra_frames = 2;
    }
  }
  if (!failure_.empty()) {
    std::fprintf(stderr, "ferry-gui: %s\n", failure_.c_str());
    return 1;
  }
  return 0;
}

}  // namespace ferry::gui
