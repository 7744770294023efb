// File workers (see workers.h).
#include "servers/resource/store/workers.h"

namespace ferry::resource {

WorkerPool::WorkerPool(FileStore& store, int lanes, std::function<void()> wake)
    : store_(store), wake_(std::move(wake)) {
  for (int i = 0; i < lanes; i++) {
    io_.push_back(std::make_unique<Lane>());
    hash_.push_back(std::make_unique<Lane>());
    sync_.push_back(std::make_unique<Lane>());
    flush_.push_back(std::make_unique<Lane>());
    io_.back()->hash = hash_.back().get();
  }
  for (auto* group : {&io_, &hash_, &sync_, &flush_}) {
    for (auto& lane : *group) {
      Lane* l = lane.get();
      l->thread = std::thread([this, l] { run(*l); });
    }
  }
}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::submit(Job&& job) {
  // A multiplicative hash spreads sequential message ids evenly over the lanes.
  size_t n = io_.size();
  size_t k = static_cast<size_t>((job.message_id * 0x9E3779B97F4A7C15ull) >> 32) % n;
  // Verify reads the hashing state, so it queues behind the upload's chunks on its hash lane.
  Lane& lane = job.sync_lane()                 ? *sync_[k]
               : job.flush_lane()              ? *flush_[k]
               : job.kind == JobKind::Verify ? *hash_[k]
                                               : *io_[k];
  push(lane, Work{std::move(job), {}, false});
}

void WorkerPool::push(Lane& lane, Work&& w) {
  {
    std::lock_guard<std::mutex> lock(lane.mu);
    lane.queue.push_back(std::move(w));
  }
  lane.cv.notify_one();
}

void WorkerPool::post(JobResult&& r) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(results_mu_);
    was_empty = results_.empty();
    results_.push_back(std::move(r));
  }
  // The loop drains every result once woken; results queued behind one it has not taken yet
  // need no wake of their own.
  if (was_empty) wake_();
}

void WorkerPool::run(Lane& lane) {
  while (true) {
    Work w;
    {
      std::unique_lock<std::mutex> lock(lane.mu);
      lane.cv.wait(lock, [&] { return lane.stopping || !lane.queue.empty(); });
      if (lane.stopping) return;
      w = std::move(lane.queue.front());
      lane.queue.pop_front();
    }
    if (w.has_written) {  // hash lane: a chunk the io lane wrote
      store_.hash_chunk(w.job, lane.scratch);
      post(std::move(w.written));
      continue;
    }
    JobResult r = store_.run(w.job, lane.scratch);
    if (w.job.kind == JobKind::Chunk && r.ok && lane.hash) {
      push(*lane.hash, Work{std::move(w.job), std::move(r), true});
      continue;
    }
    post(std::move(r));
  }
}

bool WorkerPool::poll_result(JobResult& result) {
  std::lock_guard<std::mutex> lock(results_mu_);
  if (results_.empty()) return false;
  result = std::move(results_.front());
  results_.pop_front();
  return true;
}

void WorkerPool::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto* group : {&io_, &hash_, &sync_, &flush_}) {
    for (auto& lane : *group) {
      std::lock_guard<std::mutex> lock(lane->mu);
      lane->stopping = true;
      lane->queue.clear();
    }
    for (auto& lane : *group) lane->cv.notify_all();
  }
  for (auto* group : {&io_, &hash_, &sync_, &flush_}) {
    for (auto& lane : *group) {
      if (lane->thread.joinable()) lane->thread.join();
    }
  }
}

}  // namespace ferry::resource
