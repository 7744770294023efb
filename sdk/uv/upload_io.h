// UploadIo: the I/O around the UploadManager, on the SDK's libuv loop. Glue only.
//
// Checklist
//   [x] resource-server connections ("lanes") through UvLinks (dial, bytes in, control
//       frames out): the manager decides how many and which lane each chunk goes on; this
//       only dials, reads and writes them
//   [x] probe (ferry_media) + whole-file SHA-256 off the loop (uv_queue_work), 4 MiB reads
//   [x] chunk reads off the loop: identity check (fstat of the open fd + stat of the path),
//       pread into a pooled buffer, XXH3-128 (proto/chunk_sum.h), then CHUNK written as two
//       uv_bufs (33-byte prefix + the buffer: no copy); the buffer returns to the pool when
//       the write is done
//   [x] bounded memory: buffers being read or written never exceed kBufferBudget (+1 chunk),
//       kMaxBufferBudget with more than four lanes up, whatever the file size; retransmits
//       read the file again
//   [x] sendfile for chunks the hash pass has passed: it sums every chunk on its way (at
//       ferry-resd's chunk size for the file's size), and a chunk whose sum is known goes
//       out as its prefix + sendfile from the file (UvLink::send_file): its bytes are never
//       copied into the process (the CLI's CPU per GiB on loopback 1.66 -> 1.48 s,
//       docs/benchmarks.md). Only once per chunk: a re-send (a NACK, a lost connection)
//       reads and sums afresh
//   [x] lanes paced by their sockets on a long path (UploadManager::lane_unsent_limit): the
//       unsent limit on each link, and one chunk in hand per lane
//   [x] one fd per upload, posix_fadvise(SEQUENTIAL), closed when the upload ends
//   [ ] io_uring / O_DIRECT reads (not needed: the page cache already holds a hashed file)
//
// Owner: UvDriver. Every callback runs on the loop thread, feeds the manager, then asks the
// driver to step (poll the cores again).
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "sdk/core/upload_manager.h"
#include "sdk/uv/uv_link.h"

namespace ferry::sdk {

struct ChunkSumTable;  // upload_io.cpp: the chunk sums the hash pass computes on its way

// Counters readable from any thread (tests and benchmarks).
struct UploadIoStats {
  std::atomic<uint64_t> chunk_bytes_written{0};
  std::atomic<uint64_t> chunks_written{0};
  std::atomic<uint64_t> buffer_bytes_peak{0};
  std::atomic<uint32_t> connections{0};  // resource connections up now (lanes)
  std::atomic<uint32_t> connections_peak{0};  // the most at once
  std::atomic<uint64_t> file_bytes_sent{0};  // chunk bytes that went out with sendfile
};

class UploadIo {
 public:
  // Chunk bytes held at once (reading, hashing or being written). 4 chunks of 4 MiB keep a
  // fast link busy; the window's 32 MiB in flight are in the network or at the server, not
  // here, so the SDK's memory does not grow with the file.
  static constexpr uint64_t kBufferBudget = 16u << 20;
  // With more than four lanes up the budget grows by 4 MiB a lane, up to this (the window's
  // own bound on bytes in flight). On a long path each lane's socket takes chunks only as
  // fast as TCP slow start opens it; with 16 MiB between them, 8 lanes got their first acks
  // 0.3-0.6 s after the first 4 lanes' and a 64 MiB upload through `delay 20ms loss 1%` took
  // longer from 8 lanes than from 4 (docs/benchmarks.md, session 11).
  static constexpr uint64_t kMaxBufferBudget = 32u << 20;
  // Chunks one lane may hold at once (reading, or written but not yet taken by its socket)
  // when the uploads may use several connections. 4 x 4 MiB is the whole budget, as with one
  // connection; on a slow connection it keeps the queue in front of its socket short.
  static constexpr uint32_t kLaneChunks = 4;
  // ... and this many while the manager paces the lanes by their sockets (lane_unsent_limit()):
  // the next chunk is given to a lane when its socket has taken the last one.
  static constexpr uint32_t kPacedLaneChunks = 1;

  UploadIo(uv_loop_t* loop, UploadManager& manager, std::function<void()> kick);
  ~UploadIo();
  UploadIo(const UploadIo&) = delete;
  UploadIo& operator=(const UploadIo&) = delete;

  // Acts on everything the manager asks for. True when it fed the manager an outcome at
  // once (a dial that could not start), so the caller should poll the cores again.
  bool step(uint64_t now_ms);
  // Stop: close the link; work in progress finishes without touching the manager.
  void stop();
  const UploadIoStats& stats() const { return stats_; }

 private:
  struct File {
    int fd = -1;
    int users = 0;  // reads in progress
    bool released = false;  // the upload ended: close once unused
  };
  struct ReadWork;
  struct PrepareWork;
  struct FileChunk;

  uint64_t now();
  bool connect_resource(uint32_t lane, const std::string& addr, uint64_t now_ms);
  void close_link(uint32_t lane);
  UvLink* link(uint32_t lane) const { return lane < links_.size() ? links_[lane] : nullptr; }
  void pump_reads(uint64_t now_ms);
  void start_read(ReadJob job, uint64_t now_ms);
  bool send_from_file(const ReadJob& job, uint64_t now_ms);
  void end_file_chunk(FileChunk* c, int status);
  void send_control(uint32_t lane, UvLink* to);
  void pace_links();
  void finish_read(ReadWork* w);
  void start_prepare(PrepareJob job);
  struct Buffer {
    std::unique_ptr<char[]> data;
    size_t cap = 0;
  };
  uint64_t buffer_budget() const;
  Buffer take_buffer(size_t len);
  void give_buffer(Buffer b);
  int open_file(const std::string& cid, const std::string& path);
  void unuse_file(const std::string& cid);
  void release_file(const std::string& cid);

  static void read_work(uv_work_t* req);
  static void read_after(uv_work_t* req, int status);
  static void prepare_work(uv_work_t* req);
  static void prepare_after(uv_work_t* req, int status);

  uv_loop_t* loop_;
  UploadManager& manager_;
  std::function<void()> kick_;
  std::vector<UvLink*> links_;  // by lane; null = none
  std::vector<uint32_t> lane_held_;  // by lane: chunks being read or written
  std::vector<uint32_t> lane_unsent_;  // by lane: the unsent limit set on its link (0: none)
  bool stopped_ = false;
  uint64_t buffered_ = 0;  // bytes of buffers out of the pool
  std::vector<Buffer> pool_;  // free buffers, reused so big chunks are not mmap'd each time
  std::unordered_map<std::string, File> files_;  // by upload cid
  std::unordered_map<std::string, std::shared_ptr<ChunkSumTable>> sums_;  // by upload cid
  UploadIoStats stats_;
};

}  // namespace ferry::sdk
