// WorkerPool: the file workers. N io lanes (hash + write chunks, verify, create, finalize,
// delete) and N sync lanes (fdatasync + ledger blob), one thread each. An upload is pinned to
// lane pair (message id mod N), so its chunks are written in arrival order by one thread and
// its hashing state needs no lock; its Persist runs beside the writes, so an fdatasync never
// stalls the next chunk's write. Results go back to the libuv loop through `wake` (uv_async).
//
// Owner: the libuv adapter (uv/server.cpp). submit() and poll_result() are called on the loop
// thread only. stop() lets each thread finish the job it is running, drops queued jobs (they
// are all safe to abandon: see file_store.h for why each is crash-safe), and joins.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "servers/resource/store/file_store.h"

namespace ferry::resource {

class WorkerPool {
 public:
  WorkerPool(FileStore& store, int lanes, std::function<void()> wake);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void submit(Job&& job);
  bool poll_result(JobResult& result);
  void stop();

 private:
  struct Lane {
    std::thread thread;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Job> queue;
    bool stopping = false;
    WorkerScratch scratch;
  };
  void run(Lane& lane);

  FileStore& store_;
  std::function<void()> wake_;
  std::vector<std::unique_ptr<Lane>> io_;
  std::vector<std::unique_ptr<Lane>> sync_;
  std::mutex results_mu_;
  std::deque<JobResult> results_;
  bool stopped_ = false;
};

}  // namespace ferry::resource
