// EventQueue: events from the loop thread to the app. A mutex-protected deque with a condition
// variable for ferry_poll_event() and an eventfd for ferry_event_fd().
//
// The eventfd is level-style: it is written once when the queue goes from empty to non-empty
// and read (reset to zero) when a pop empties it, so it is readable exactly while events wait,
// however many there are and whichever thread takes them.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

#include "sdk/include/ferry.h"

namespace ferry::sdk {

class EventQueue {
 public:
  EventQueue() = default;
  ~EventQueue();  // frees events nobody took and closes the fd
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  // 0, or a negative errno when the eventfd cannot be created.
  int init();
  // Takes ownership of `e` (from build_event(), freed with free()).
  void push(ferry_event_t* e);
  // The same for a batch, under one lock and with at most one eventfd write; clears `batch`.
  void push_all(std::vector<ferry_event_t*>& batch);
  // FERRY_OK and *out, or FERRY_ETIMEDOUT. timeout_ms: 0 = no wait, negative = forever.
  int pop(ferry_event_t** out, int timeout_ms);
  int fd() const { return fd_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ferry_event_t*> queue_;
  int waiters_ = 0;  // threads blocked in pop(); push() signals the condvar only if any
  int fd_ = -1;
};

}  // namespace ferry::sdk
