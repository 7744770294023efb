// What: servers/common/uv/loop_wake.h. Wake-ups from other threads reach the loop, none is
// lost when they coalesce (the callback drains a queue until it is empty, as resd's results
// are drained), and close() (once no thread notifies any more) lets the loop end.
// How: a real libuv loop on this thread; producer threads push to a mutex-guarded queue and
// notify only on its empty -> not-empty edge, as WorkerPool::post does.
#include <gtest/gtest.h>
#include <uv.h>

#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "servers/common/uv/loop_wake.h"

namespace {

TEST(LoopWake, every_item_pushed_from_other_threads_is_taken_and_wakes_coalesce) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  ferry::server::LoopWake wake;
  std::mutex mu;
  std::deque<int> queue;
  constexpr int kThreads = 4, kEach = 5000;
  int taken = 0, wakeups = 0;
  ASSERT_EQ(wake.start(&loop,
                       [&] {
                         wakeups++;
                         std::lock_guard<std::mutex> lock(mu);
                         taken += static_cast<int>(queue.size());
                         queue.clear();
                         if (taken == kThreads * kEach) uv_stop(&loop);
                       }),
            0);
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; t++) {
    producers.emplace_back([&] {
      for (int i = 0; i < kEach; i++) {
        bool was_empty;
        {
          std::lock_guard<std::mutex> lock(mu);
          was_empty = queue.empty();
          queue.push_back(i);
        }
        if (was_empty) wake.notify();
      }
    });
  }
  // Returns once everything was taken (uv_stop); a wake-up lost on the way would hang here
  // and ctest's timeout would fail the test.
  uv_run(&loop, UV_RUN_DEFAULT);
  for (auto& p : producers) p.join();
  wake.close();  // no thread notifies any more (the contract)
  EXPECT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  EXPECT_EQ(taken, kThreads * kEach);
  EXPECT_GE(wakeups, 1);
  EXPECT_LE(wakeups, kThreads * kEach);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

TEST(LoopWake, a_notify_before_the_loop_runs_is_seen) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  ferry::server::LoopWake wake;
  int calls = 0;
  ASSERT_EQ(wake.start(&loop,
                       [&] {
                         calls++;
                         wake.close();
                       }),
            0);
  wake.notify();
  wake.notify();  // coalesces with the first
  EXPECT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

}  // namespace
