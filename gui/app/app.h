// The app: one window, one ferry client, the model, the screens and (optionally) a script,
// tied together in a loop that sleeps while nothing happens.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gui/app/args.h"
#include "gui/app/ferry_link.h"
#include "gui/model/model.h"
#include "gui/platform/window.h"
#include "gui/render/imgui_glue.h"
#include "gui/render/texture_cache.h"
#include "gui/render/video_player.h"
#include "gui/screens/ui_state.h"
#include "gui/script/runner.h"

namespace ferry::gui {

class App : public ScriptHost {
 public:
  explicit App(Args args);
  ~App() override;
  // Runs until the window closes or the script ends. Returns the process exit code.
  int run();

  // ScriptHost.
  AppModel& model() override { return model_; }
  bool perform(const Action& a, std::string* err) override;
  bool textures_idle() override;
  bool busy() override { return screenshot_in_frames_ >= 0; }
  uint64_t video_frames() override {
    return video_ && video_->is_open() ? video_->frames_shown() : 0;
  }

 private:
  bool setup(std::string* why);
  void frame();
  void draw_root();
  void auto_login();
  int run_bench();
  void fill_bench_conversation();

  Args args_;
  AppModel model_;
  FerryLink link_{model_};
  UiState ui_;
  Window window_;
  ImGuiGlue glue_;
  std::unique_ptr<TextureCache> textures_;
  std::unique_ptr<VideoPlayer> video_;
  std::unique_ptr<ScriptRunner> script_;
  bool login_tried_ = false;
  std::string screenshot_path_;
  int screenshot_in_frames_ = -1;
  std::string failure_;
  float bench_scroll_ = 0;
};

}  // namespace ferry::gui
