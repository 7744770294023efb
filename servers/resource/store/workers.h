// WorkerPool: the file workers, in N lane groups, one thread per lane:
//   io    check and write chunks, create, finalize, delete
//   hash  the whole-file SHA-256, chunk by chunk in write order, and Verify
//   sync  fdatasync + ledger blob
//   flush fdatasync of a partial data file every so many bytes (ResdConfig::flush_every_bytes),
//         so that neither the writes nor the ledger wait for it
// An upload is pinned to one group (by message id), so its chunks are written in arrival
// order by one thread and hashed in that order by another (its hashing state needs no lock),
// and its Persist runs beside both, so an fdatasync never stalls the next write. Splitting
// hash from write lets the two biggest costs per byte (page-cache copy, SHA-256) use both
// cores; a chunk's result is posted only once it is hashed, so the loop's per-connection
// queued-bytes bound still covers every payload the workers hold. Results go back to the
// libuv loop through `wake` (a LoopWake), called when the results queue goes from empty to
// not empty: the loop must take results with poll_result() until it says there are none.
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
  // A job, and on the hash lane the result of its write (the result is posted after hashing).
  struct Work {
    Job job;
    JobResult written;
    bool has_written = false;
  };
  struct Lane {
    std::thread thread;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Work> queue;
    bool stopping = false;
    WorkerScratch scratch;
    Lane* hash = nullptr;  // io lanes: where written chunks go next
  };
  void run(Lane& lane);
  void push(Lane& lane, Work&& w);
  void post(JobResult&& r);

  FileStore& store_;
  std::function<void()> wake_;
  std::vector<std::unique_ptr<Lane>> io_;
  std::vector<std::unique_ptr<Lane>> hash_;
  std::vector<std::unique_ptr<Lane>> sync_;
  std::vector<std::unique_ptr<Lane>> flush_;
  std::mutex results_mu_;
  std::deque<JobResult> results_;
  bool stopped_ = false;
};

}  // namespace ferry::resource
