// GLFW platform glue: the window and its OpenGL context, the files dropped onto it, and
// sleeping until something happens (input, a ferry event, or a timeout).
//
// Implemented: GL 3.3 core context with a fallback to any GL >= 3.0 context (Mesa llvmpipe
// under Xvfb gives either); drop callback into a queue; idle wait that wakes on ferry's event
// fd through a watcher thread (glfwPostEmptyEvent), so an idle app makes no wake-ups at all.
// Missing: multiple windows, DPI scaling, clipboard images.
#pragma once

#include <memory>
#include <string>
#include <vector>

struct GLFWwindow;

namespace ferry::gui {

class FdWaker;

class Window {
 public:
  Window();
  ~Window();
  Window(const Window&) = delete;
  Window& operator=(const Window&) = delete;

  // Opens a window of w x h. Returns false (with *why) when GLFW or GL is unavailable.
  bool open(int w, int h, const std::string& title, std::string* why);
  GLFWwindow* handle() const { return win_; }
  // The GLSL version line for the renderer, matching the context that was created.
  const char* glsl_version() const { return glsl_; }
  bool should_close() const;
  void framebuffer_size(int* w, int* h) const;
  void swap();

  // Sleeps until input, a ferry event on `fd` (see watch_fd) or timeout_s passes.
  void wait(double timeout_s);
  // Wakes wait() whenever fd becomes readable. Call ack_fd() after draining it.
  void watch_fd(int fd);
  void ack_fd();

  // Files dropped since the last call (absolute paths as GLFW reports them).
  std::vector<std::string> take_drops();
  void push_drop(const std::string& path) { drops_.push_back(path); }  // also used by scripts

 private:
  static void drop_callback(GLFWwindow* w, int count, const char** paths);
  GLFWwindow* win_ = nullptr;
  const char* glsl_ = "#version 130";
  std::vector<std::string> drops_;
  std::unique_ptr<FdWaker> waker_;
  bool glfw_ready_ = false;
};

}  // namespace ferry::gui
