#include "sdk/uv/download_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <string>

#include "proto/hex.h"

namespace ferry::sdk {
namespace {

// Progress is reported (the loop woken) at least this often while bytes flow.
constexpr uint64_t kProgressStep = 4u << 20;

// fd's file opened again for O_DIRECT writes, if fd may write and the file system takes it.
int reopen_direct(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY) return -1;
  std::string self = "/proc/self/fd/" + std::to_string(fd);
  return ::open(self.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
}

}  // namespace

DownloadWriter::DownloadWriter(int fd, uint64_t offset, bool hash, uv_async_t* wake)
    : fd_(fd),
      direct_fd_(reopen_direct(fd)),
      next_(offset),
      fill_(offset),
      synced_(offset),
      reported_(offset),
      wake_(wake),
      written_(offset) {
  if (hash) {
    hash_ = EVP_MD_CTX_new();
    EVP_DigestInit_ex(hash_, EVP_sha256(), nullptr);
  }
  writer_ = std::thread([this] { run_writer(); });
  if (hash_) {
    try {
      hasher_ = std::thread([this] { run_hasher(); });
    } catch (...) {
      {
        std::lock_guard lock(mu_);
        stop_ = true;
      }
      cv_.notify_one();
      writer_.join();
      EVP_MD_CTX_free(hash_);
      throw;
    }
  }
}

DownloadWriter::~DownloadWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  hash_cv_.notify_one();
  writer_.join();
  if (hasher_.joinable()) hasher_.join();
  if (hash_) EVP_MD_CTX_free(hash_);
  if (direct_fd_ >= 0) ::close(direct_fd_);
}

// --- Loop thread --------------------------------------------------------------------------------

DownloadWriter::Block DownloadWriter::take_block() {
  Block b;
  if (!free_.empty()) {
    b = std::move(free_.back());
    free_.pop_back();
  } else {
    b.data.reset(static_cast<char*>(std::aligned_alloc(kAlign, kBlockSize)));
    if (!b.data) throw std::bad_alloc();
    allocated_++;
  }
  b.len = 0;
  b.cap = kBlockSize - fill_ % kAlign;  // realigns after an unaligned start
  return b;
}

bool DownloadWriter::put(const char* data, size_t len) {
  if (len == 0) return true;
  bool notify = false;
  {
    std::lock_guard lock(mu_);
    size_t spare = kBlocks - allocated_ + free_.size();
    // A fresh block may take kAlign - 1 bytes less than kBlockSize (see take_block).
    size_t room =
        spare * (kBlockSize - kAlign) + (current_.data ? current_.cap - current_.len : 0);
    if (room < len) return false;
    while (len > 0) {
      if (!current_.data) current_ = take_block();
      size_t n = std::min(len, current_.cap - current_.len);
      std::memcpy(current_.data.get() + current_.len, data, n);
      current_.len += n;
      fill_ += n;
      data += n;
      len -= n;
      if (current_.len == current_.cap) {
        queue_.push_back(std::move(current_));
        current_ = Block{};
        notify = true;
      }
    }
  }
  if (notify) cv_.notify_one();
  return true;
}

void DownloadWriter::flush_if_idle() {
  if (!current_.data || current_.len == 0) return;
  {
    std::lock_guard lock(mu_);
    if (!queue_.empty() || writing_) return;  // it wakes the loop when done; fill on meanwhile
    queue_.push_back(std::move(current_));
    current_ = Block{};
  }
  cv_.notify_one();
}

void DownloadWriter::flush() {
  if (!current_.data || current_.len == 0) return;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(current_));
    current_ = Block{};
  }
  cv_.notify_one();
}

bool DownloadWriter::has_room() const {
  std::lock_guard lock(mu_);
  return kBlocks - allocated_ + free_.size() >= kBlocks / 2;
}

bool DownloadWriter::idle() const {
  if (current_.data && current_.len > 0) return false;
  std::lock_guard lock(mu_);
  return queue_.empty() && !writing_ && hash_queue_.empty() && !hashing_;
}

std::string DownloadWriter::digest() {
  if (!hash_) return "";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(hash_, md, &len);
  EVP_MD_CTX_free(hash_);
  hash_ = nullptr;
  return proto::hex_encode(std::string_view(reinterpret_cast<char*>(md), len));
}

// --- Writer thread ------------------------------------------------------------------------------

void DownloadWriter::run_writer() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;  // a paused or cancelled transfer: queued bytes are dropped, the
                        // file keeps the prefix written so far
    Block b = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    lock.unlock();
    bool ok = error_.load(std::memory_order_relaxed) == 0 && write_block(b);
    if (ok) written_.store(next_, std::memory_order_release);
    lock.lock();
    writing_ = false;
    if (ok && hash_) {
      hash_queue_.push_back(std::move(b));
      hash_cv_.notify_one();
    } else {
      release_block(std::move(b), !ok);
    }
  }
}

void DownloadWriter::run_hasher() {
  std::unique_lock lock(mu_);
  for (;;) {
    hash_cv_.wait(lock, [this] { return stop_ || !hash_queue_.empty(); });
    if (stop_) return;
    Block b = std::move(hash_queue_.front());
    hash_queue_.pop_front();
    hashing_ = true;
    lock.unlock();
    EVP_DigestUpdate(hash_, b.data.get(), b.len);
    lock.lock();
    hashing_ = false;
    release_block(std::move(b), false);
  }
}

void DownloadWriter::release_block(Block b, bool failed) {
  b.len = 0;
  free_.push_back(std::move(b));
  // Wake the loop when it may act: room again for a paused transfer, nothing left to do (a
  // finished transfer completes), an error, or progress to report.
  uint64_t written = written_.load(std::memory_order_relaxed);
  bool drained = queue_.empty() && !writing_ && hash_queue_.empty() && !hashing_;
  bool wake = failed || drained || written >= reported_ + kProgressStep ||
              kBlocks - allocated_ + free_.size() == kBlocks / 2;
  if (wake) {
    reported_ = written;
    uv_async_send(wake_);
  }
}

bool DownloadWriter::write_block(const Block& b) {
  int fd = fd_;
  if (direct_fd_ >= 0 && next_ % kAlign == 0 && b.len % kAlign == 0) {
    ssize_t w = ::pwrite(direct_fd_, b.data.get(), b.len, static_cast<off_t>(next_));
    if (w == static_cast<ssize_t>(b.len)) {
      next_ += b.len;
      direct_bytes_.fetch_add(b.len, std::memory_order_release);
      return true;
    }
    if (w < 0 && errno == EINVAL) {  // takes the open but not the write: page cache from now on
      ::close(direct_fd_);
      direct_fd_ = -1;
    }
    // Otherwise (a short write, an error) the buffered path below writes it again or reports.
  }
  for (size_t off = 0; off < b.len;) {
    ssize_t w = ::pwrite(fd, b.data.get() + off, b.len - off, static_cast<off_t>(next_ + off));
    if (w < 0) {
      if (errno == EINTR) continue;
      error_.store(errno, std::memory_order_release);
      return false;
    }
    off += static_cast<size_t>(w);
  }
  next_ += b.len;
  // Start write-back of what is behind us now, rather than all of it at the final fsync.
  // Only a hint: an error here surfaces at that fsync.
  if (next_ >= synced_ + kSyncStep) {
    ::sync_file_range(fd_, static_cast<off_t>(synced_), static_cast<off_t>(next_ - synced_),
                      SYNC_FILE_RANGE_WRITE);
    synced_ = next_;
  }
  return true;
}

}  // namespace ferry::sdk
