// DownloadWriter: the disk side of one running download transfer, on a thread of its own, so
// that the SDK's loop thread only receives (issue 4 section 5: pwrite and SHA-256 between
// socket reads halved the download rate).
//
// The loop thread copies what libcurl hands over into pooled blocks (put) and passes full
// ones on; the writer thread pwrite()s them at consecutive offsets and every kSyncStep bytes
// asks the kernel to start writing them back (sync_file_range WRITE), so the fsync before the
// rename has little left to do; when the body started at byte 0 a second thread SHA-256s the
// written blocks in the same order (measured: the page-cache copy and the hash each take
// about one core at 600 MB/s, so one thread doing both was the bottleneck). Blocks are
// written strictly in order: whatever the thread has written is a prefix of the body, and
// the partial file stays resumable from its size whenever the transfer stops.
//
// O_DIRECT: the writer reopens the partial file with O_DIRECT (where the file system allows it)
// and writes every block whose offset and length are multiples of kAlign straight from the
// (aligned) block to the disk: no copy into the page cache, which cost about as much CPU as
// the SHA-256 on a 2-core machine (issue 4 section 5). Blocks are cut so that after an
// unaligned start (a resume, a flushed partial block) the next block ends on a kAlign
// boundary; short and unaligned blocks go through the page cache as before.
//
// Bounded memory: at most kBlocks blocks exist per transfer. When they are all taken, put()
// refuses and the caller pauses the transfer (CURL_WRITEFUNC_PAUSE); the thread wakes the
// loop (uv_async_send on `wake`) as blocks come back, and has_room() says when to resume.
//
// Threads: every method is for the loop thread; the writer thread touches only the queues
// (under the mutex), the fd and the atomics, the hasher only the queues and the hash. The
// destructor stops and joins both (each finishes at most the block in hand), so the caller
// may close the fd after.
#pragma once

#include <openssl/evp.h>
#include <uv.h>

#include <atomic>
#include <cstdlib>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ferry::sdk {

class DownloadWriter {
 public:
  // 16 x 512 KiB: a block holds one full libcurl buffer; 8 MiB per transfer in memory at
  // most, which keeps the writer busy while the loop receives.
  static constexpr size_t kBlockSize = 512u << 10;
  static constexpr size_t kBlocks = 16;
  static constexpr uint64_t kSyncStep = 8u << 20;
  static constexpr size_t kAlign = 4096;  // O_DIRECT offset, length and memory alignment

  // fd: the partial file, open for writing, owned by the caller (open until this is
  // destroyed). offset: where the first byte goes. hash: SHA-256 every byte (offset 0 only).
  DownloadWriter(int fd, uint64_t offset, bool hash, uv_async_t* wake);
  ~DownloadWriter();
  DownloadWriter(const DownloadWriter&) = delete;
  DownloadWriter& operator=(const DownloadWriter&) = delete;

  // Takes all `len` bytes (true) or none (false: no room, pause the transfer).
  bool put(const char* data, size_t len);
  // Hands the partly filled block on when the thread has nothing else to do (so a slow
  // trickle still reaches the disk without waiting for a block to fill), or always.
  void flush_if_idle();
  void flush();
  // Half of the blocks are free again: a paused transfer may resume.
  bool has_room() const;
  // Everything put() took is written and hashed (or dropped after an error).
  bool idle() const;
  // Bytes of the file on disk: offset + what the thread wrote.
  uint64_t written() const { return written_.load(std::memory_order_acquire); }
  // errno of the first failed write, 0 if none. After one, blocks are dropped unwritten.
  int error() const { return error_.load(std::memory_order_acquire); }
  // The SHA-256 (hex) of every byte from 0; "" when not hashing. Only once idle().
  std::string digest();
  // Bytes the writer has written with O_DIRECT so far (0 where the file system refuses it).
  uint64_t direct_bytes() const { return direct_bytes_.load(std::memory_order_acquire); }

 private:
  struct FreeDeleter {
    void operator()(char* p) const { std::free(p); }
  };
  struct Block {
    std::unique_ptr<char, FreeDeleter> data;
    size_t len = 0;
    size_t cap = 0;  // bytes this block takes: it ends on a kAlign boundary of the file
  };
  void run_writer();
  void run_hasher();
  bool write_block(const Block& b);
  Block take_block();  // loop thread, with the lock held
  // With the lock held, after a block came back to free_.
  void release_block(Block b, bool failed);

  int fd_;
  int direct_fd_ = -1;  // fd_'s file reopened with O_DIRECT, or -1; the writer thread's
  uint64_t next_;  // the writer thread's file offset
  uint64_t fill_;  // loop thread: the file offset of the next byte put() takes
  uint64_t synced_;
  uint64_t reported_;  // under the lock: written bytes at the last wake-up
  uv_async_t* wake_;
  EVP_MD_CTX* hash_ = nullptr;
  Block current_;  // loop thread: being filled

  mutable std::mutex mu_;
  std::condition_variable cv_;       // the writer's: queue_ or stop_
  std::condition_variable hash_cv_;  // the hasher's: hash_queue_ or stop_
  std::deque<Block> queue_;          // full blocks to write, in file order
  std::deque<Block> hash_queue_;     // written blocks to hash, in file order
  std::vector<Block> free_;          // done with, for reuse
  size_t allocated_ = 0;             // blocks that exist (in any of the above, held, current)
  bool writing_ = false;             // the writer holds a block
  bool hashing_ = false;             // the hasher holds a block
  bool stop_ = false;
  std::atomic<uint64_t> written_;
  std::atomic<int> error_{0};
  std::atomic<uint64_t> direct_bytes_{0};
  std::thread writer_;
  std::thread hasher_;
};

}  // namespace ferry::sdk
