#include "gui/platform/quit_signal.h"

#include <signal.h>

#include <atomic>

namespace ferry::gui {

namespace {
std::atomic<bool> g_quit{false};  // lock-free: safe to set from a signal handler
void on_signal(int) { g_quit.store(true); }
}  // namespace

void install_quit_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool quit_signalled() { return g_quit.load(); }

}  // namespace ferry::gui
