// Wakes the GLFW event wait when a file descriptor becomes readable.
//
// ferry's event fd is level-triggered: it stays readable until the app drains the queue. So
// the watcher posts one empty event, then waits for the UI thread's ack (sent after it drained)
// before polling the fd again; otherwise it would spin while the UI thread sleeps in vsync.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

namespace ferry::gui {

class FdWaker {
 public:
  explicit FdWaker(int fd);  // starts the watcher thread
  ~FdWaker();                // stops and joins it
  FdWaker(const FdWaker&) = delete;
  FdWaker& operator=(const FdWaker&) = delete;
  void ack();  // the UI thread drained the fd

 private:
  void run();
  int fd_;
  int stop_fd_ = -1;  // an eventfd that ends the watcher's poll
  std::mutex mu_;
  std::condition_variable cv_;
  bool acked_ = true;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ferry::gui
