#include "gui/platform/window.h"

#include <GLFW/glfw3.h>

#include <cstdio>

#include "gui/platform/fd_waker.h"

namespace ferry::gui {

namespace {
void error_callback(int code, const char* text) {
  std::fprintf(stderr, "ferry-gui: GLFW error %d: %s\n", code, text);
}
}  // namespace

Window::Window() = default;

Window::~Window() {
  waker_.reset();  // joins the watcher before GLFW goes away
  if (win_) glfwDestroyWindow(win_);
  if (glfw_ready_) glfwTerminate();
}

bool Window::open(int w, int h, const std::string& title, std::string* why) {
  glfwSetErrorCallback(error_callback);
  if (!glfwInit()) {
    *why = "cannot initialise GLFW (is DISPLAY set? under CI use Xvfb)";
    return false;
  }
  glfw_ready_ = true;
  // First choice: OpenGL 3.3 core (what Mesa llvmpipe offers). Fallback: whatever >= 3.0
  // context the driver gives by default, with GLSL 1.30 shaders.
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_OPENGL_FORWARD_COMPAT, GLFW_TRUE);
  win_ = glfwCreateWindow(w, h, title.c_str(), nullptr, nullptr);
  glsl_ = "#version 150";
  if (!win_) {
    glfwDefaultWindowHints();
    glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
    glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
    win_ = glfwCreateWindow(w, h, title.c_str(), nullptr, nullptr);
    glsl_ = "#version 130";
  }
  if (!win_) {
    *why = "cannot create an OpenGL 3 window";
    return false;
  }
  glfwMakeContextCurrent(win_);
  glfwSwapInterval(1);
  glfwSetWindowUserPointer(win_, this);
  glfwSetDropCallback(win_, drop_callback);
  return true;
}

void Window::drop_callback(GLFWwindow* w, int count, const char** paths) {
  auto* self = static_cast<Window*>(glfwGetWindowUserPointer(w));
  for (int i = 0; i < count; i++) self->drops_.emplace_back(paths[i]);
}

bool Window::should_close() const { return glfwWindowShouldClose(win_); }

void Window::framebuffer_size(int* w, int* h) const { glfwGetFramebufferSize(win_, w, h); }

void Window::swap() { glfwSwapBuffers(win_); }

void Window::wait(double timeout_s) {
  if (timeout_s <= 0)
    glfwPollEvents();
  else
    glfwWaitEventsTimeout(timeout_s);
}

void Window::watch_fd(int fd) {
  waker_.reset();
  if (fd >= 0) waker_ = std::make_unique<FdWaker>(fd);
}

void Window::ack_fd() {
  if (waker_) waker_->ack();
}

std::vector<std::string> Window::take_drops() {
  std::vector<std::string> out;
  out.swap(drops_);
  return out;
}

}  // namespace ferry::gui
