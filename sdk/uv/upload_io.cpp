// UploadIo: files and the resource connection for the UploadManager (see upload_io.h).
#include "sdk/uv/upload_io.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "proto/chunk_sum.h"
#include "proto/hex.h"
#include "proto/upload_frames.h"
#include "sdk/core/wire.h"
#include "sdk/include/ferry.h"
#include "sdk/media/thumbnail.h"
#include "sdk/uv/file_identity.h"

namespace ferry::sdk {
namespace {

// Reads [offset, offset + len) fully; false on an error or a short file.
bool pread_full(int fd, char* buf, size_t len, uint64_t offset) {
  while (len > 0) {
    ssize_t n = ::pread(fd, buf, len, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf += n;
    len -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

int kind_for(int asked, const std::string& mime) {
  if (asked != FERRY_KIND_AUTO) return asked;
  if (mime.rfind("image/", 0) == 0) return FERRY_KIND_IMAGE;
  if (mime.rfind("video/", 0) == 0) return FERRY_KIND_VIDEO;
  return FERRY_KIND_FILE;
}

}  // namespace

// The sums of a file's chunks as the hash pass computes them (send_from_file).
struct ChunkSumTable {
  uint64_t chunk = 0;
  std::vector<proto::ChunkSum> sums;  // one per chunk, sized before the pass starts
  std::atomic<size_t> ready{0};       // sums[0, ready) are final (stored by the pool thread)
  std::vector<bool> used;             // loop thread: sent from the file already
};

namespace {

// Whole-file SHA-256 with large sequential reads, checking the file is still the one the
// app named before and after (a change in between fails the upload, never the server). With
// job.hash false ("hash later": a separate job hashes it) only the identity is checked.
// With `sums`, each chunk's XXH3 too, slice by slice while the slice is in the cache.
void hash_file(const PrepareJob& job, PrepareResult& r, ChunkSumTable* sums) {
  FileIdentity want{job.size, job.mtime_ns, job.inode};
  int fd = ::open(job.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r.status = errno == ENOENT ? FERRY_ESOURCECHANGED : FERRY_ENOFILE;
    r.detail = "cannot open " + job.path + ": " + std::strerror(errno);
    return;
  }
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  constexpr size_t kRead = 4u << 20;
  std::unique_ptr<char[]> buf(new char[kRead]);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  r.status = check_identity(fd, job.path, want, r.detail);
  constexpr size_t kSlice = 256u << 10;
  std::unique_ptr<proto::ChunkSummer> summer;
  for (uint64_t off = 0; job.hash && r.status == FERRY_OK && off < job.size;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(sums ? kSlice : kRead, job.size - off));
    if (sums) {  // never across a chunk's end
      n = static_cast<size_t>(std::min<uint64_t>(n, sums->chunk - off % sums->chunk));
    }
    if (!pread_full(fd, buf.get(), n, off)) {
      r.status = FERRY_ESOURCECHANGED;
      r.detail = job.path + " became shorter while hashing";
      break;
    }
    EVP_DigestUpdate(ctx, buf.get(), n);
    off += n;
    if (!sums) continue;
    if (!summer) summer = std::make_unique<proto::ChunkSummer>();
    summer->update(buf.get(), n);
    if (off % sums->chunk == 0 || off == job.size) {
      size_t k = static_cast<size_t>((off - 1) / sums->chunk);
      sums->sums[k] = summer->digest();
      summer.reset();
      sums->ready.store(k + 1, std::memory_order_release);
    }
  }
  if (r.status == FERRY_OK) r.status = check_identity(fd, job.path, want, r.detail);
  unsigned char md[32];
  EVP_DigestFinal_ex(ctx, md, nullptr);
  EVP_MD_CTX_free(ctx);
  ::close(fd);
  if (job.hash) {
    r.sha256 = proto::hex_encode(std::string_view(reinterpret_cast<char*>(md), sizeof md));
  }
}

}  // namespace

struct UploadIo::ReadWork {
  uv_work_t req{};
  UploadIo* io = nullptr;
  ReadJob job;
  Buffer buf;
  int fd = -1;
  int status = FERRY_OK;
  std::string detail;
  proto::ChunkSum hash{};
  uint8_t prefix[proto::kChunkFramePrefixBytes] = {};
};

struct UploadIo::PrepareWork {
  uv_work_t req{};
  UploadIo* io = nullptr;
  PrepareJob job;
  PrepareResult result;
  std::shared_ptr<ChunkSumTable> sums;  // the chunk sums this pass fills, when it hashes
};

// A chunk going out from the file: its frame prefix lives here until the send is done.
struct UploadIo::FileChunk {
  ReadJob job;
  uint8_t prefix[proto::kChunkFramePrefixBytes] = {};
};

UploadIo::UploadIo(uv_loop_t* loop, UploadManager& manager, std::function<void()> kick)
    : loop_(loop), manager_(manager), kick_(std::move(kick)) {
  manager_.set_lane_capable();
  links_.assign(manager_.lane_slots(), nullptr);
  lane_held_.assign(manager_.lane_slots(), 0);
  lane_unsent_.assign(manager_.lane_slots(), 0);
}

UploadIo::~UploadIo() {
  for (auto& [cid, f] : files_) {
    if (f.fd >= 0) ::close(f.fd);
  }
}

uint64_t UploadIo::now() {
  uv_update_time(loop_);
  return uv_now(loop_);
}

void UploadIo::stop() {
  stopped_ = true;
  for (uint32_t l = 0; l < links_.size(); l++) close_link(l);
}

void UploadIo::close_link(uint32_t lane) {
  if (lane >= links_.size() || !links_[lane]) return;
  links_[lane]->close();
  links_[lane] = nullptr;
}

bool UploadIo::step(uint64_t now_ms) {
  if (stopped_) return false;
  bool fed = false;
  while (auto lane = manager_.poll_close_lane()) close_link(*lane);
  while (auto d = manager_.poll_connect_lane()) {
    if (!connect_resource(d->lane, d->addr, now_ms)) fed = true;
  }
  for (uint32_t l = 0; l < links_.size(); l++) {
    std::string out = manager_.poll_send(l);
    if (!out.empty() && links_[l]) links_[l]->write(std::move(out));
  }
  while (auto job = manager_.poll_prepare()) start_prepare(std::move(*job));
  while (auto job = manager_.poll_hash()) start_prepare(std::move(*job));
  pace_links();
  pump_reads(now_ms);
  while (auto cid = manager_.poll_file_close()) release_file(*cid);
  uint32_t up = manager_.lanes_up();
  stats_.connections = up;
  if (up > stats_.connections_peak.load()) stats_.connections_peak = up;
  return fed;
}

// The manager's unsent limit on every connected lane, set once per link (before its first
// chunk: a lane is paced from the start or the limit comes with a path sample later).
void UploadIo::pace_links() {
  uint32_t want = manager_.lane_unsent_limit();
  for (uint32_t l = 0; l < links_.size(); l++) {
    if (!links_[l] || !links_[l]->connected() || lane_unsent_[l] == want) continue;
    if (links_[l]->set_unsent_limit(want) == 0) lane_unsent_[l] = want;
  }
}

bool UploadIo::connect_resource(uint32_t lane, const std::string& addr, uint64_t now_ms) {
  if (lane >= links_.size()) return false;
  close_link(lane);
  lane_unsent_[lane] = 0;  // a new socket has the system's default
  std::string host, port;
  wire::split_address(addr, host, port);
  LinkHooks hooks;
  hooks.on_connect = [this, lane](int status, const std::string& detail) {
    if (status == 0) {
      if (UvLink* l = link(lane)) manager_.on_handshake_rtt(lane, l->tcp_rtt_us());
      manager_.on_connected(lane, now());
    } else {
      links_[lane] = nullptr;
      manager_.on_connect_failed(lane, status, detail, now());
    }
    kick_();
  };
  hooks.on_read = [this, lane](const char* data, size_t len) {
    manager_.on_bytes(lane, data, len, now());
    kick_();
  };
  hooks.on_lost = [this, lane](int err, const std::string& detail) {
    links_[lane] = nullptr;
    manager_.on_disconnected(lane, err, detail, now());
    kick_();
  };
  int err = 0;
  std::string detail;
  links_[lane] = UvLink::dial(loop_, host, port, std::move(hooks), err, detail);
  if (!links_[lane]) manager_.on_connect_failed(lane, err, detail, now_ms);
  return links_[lane] != nullptr;
}

uint64_t UploadIo::buffer_budget() const {
  return std::clamp<uint64_t>(uint64_t{manager_.lanes_up()} * (4u << 20), kBufferBudget,
                              kMaxBufferBudget);
}

// Reads for every connected lane, one chunk per lane per turn, within the one buffer budget
// of the process (lanes share it; past four lanes it grows, to kMaxBufferBudget at most).
// With several lanes possible, a lane also holds at most kLaneChunks chunks (being read or
// waiting for its socket), one while the lanes are paced: a slow connection must not sit on
// the whole budget with chunks its socket cannot take, starving the lanes that could send
// them.
void UploadIo::pump_reads(uint64_t now_ms) {
  // A chunk is at most 4 MiB with ferry-resd; an empty pipeline always takes one.
  constexpr uint64_t kLargestChunk = 4u << 20;
  const uint64_t budget = buffer_budget();
  const uint32_t lane_chunks = manager_.lane_unsent_limit() > 0 ? kPacedLaneChunks : kLaneChunks;
  bool any = true;
  while (any && (buffered_ == 0 || buffered_ + kLargestChunk <= budget)) {
    any = false;
    for (uint32_t l = 0; l < links_.size(); l++) {
      if (!links_[l] || !links_[l]->connected()) continue;
      if (links_.size() > 1 && lane_held_[l] >= lane_chunks) continue;
      if (buffered_ != 0 && buffered_ + kLargestChunk > budget) return;
      std::optional<ReadJob> job = manager_.poll_read(now_ms, l);
      if (!job) continue;
      any = true;
      if (!send_from_file(*job, now_ms)) start_read(std::move(*job), now_ms);
    }
  }
}

// A chunk whose sum the hash pass already has goes out as its prefix + sendfile from the
// file, never read into the process. False: it takes the read path (no sum yet, another
// chunk size, sent from the file once already, the file or the link not usable).
bool UploadIo::send_from_file(const ReadJob& job, uint64_t now_ms) {
  auto it = sums_.find(job.cid);
  UvLink* to = link(job.lane);
  if (it == sums_.end() || !to || !to->connected()) return false;
  ChunkSumTable& t = *it->second;
  if (job.offset % t.chunk != 0) return false;
  size_t k = static_cast<size_t>(job.offset / t.chunk);
  if (k >= t.ready.load(std::memory_order_acquire) || t.used[k] ||
      job.length != std::min<uint64_t>(t.chunk, job.size - job.offset))
    return false;
  if (to->prepare_file_sends() != 0) return false;
  int fd = open_file(job.cid, job.path);
  if (fd < 0) return false;
  std::string detail;
  if (check_identity(fd, job.path, FileIdentity{job.size, job.mtime_ns, job.inode}, detail) !=
      FERRY_OK)
    return false;  // the read path finds the same and says so
  t.used[k] = true;
  auto* c = new FileChunk();
  c->job = job;
  files_[job.cid].users++;
  lane_held_[job.lane]++;
  buffered_ += job.length;  // not a buffer, but bytes this process has in hand
  if (!manager_.on_read_done(job.id, FERRY_OK, "", t.sums[k], c->prefix, now_ms)) {
    end_file_chunk(c, UV_ECANCELED);
    return true;
  }
  send_control(job.lane, to);
  uv_buf_t prefix = uv_buf_init(reinterpret_cast<char*>(c->prefix), sizeof c->prefix);
  // The link is ready for file sends (above) and connected: once the prefix is queued the
  // send_file cannot be refused, so no frame is left half sent.
  int rc = to->write_parts(&prefix, 1, [](int) {});
  if (rc == 0) {
    rc = to->send_file(fd, job.offset, job.length,
                       [this, c](int status) { end_file_chunk(c, status); });
  }
  if (rc != 0) end_file_chunk(c, rc);
  kick_();
  return true;
}

// Control frames the manager queued for the lane (an OPEN, a PONG) go before a chunk, in order.
void UploadIo::send_control(uint32_t lane, UvLink* to) {
  std::string out = manager_.poll_send(lane);
  if (!out.empty()) to->write(std::move(out));
}

void UploadIo::end_file_chunk(FileChunk* c, int status) {
  if (status == 0) {
    stats_.chunk_bytes_written += c->job.length;
    stats_.chunks_written++;
    stats_.file_bytes_sent += c->job.length;
  }
  buffered_ -= c->job.length;
  lane_held_[c->job.lane]--;
  unuse_file(c->job.cid);
  delete c;
  if (!stopped_) kick_();
}

void UploadIo::start_read(ReadJob job, uint64_t now_ms) {
  int fd = open_file(job.cid, job.path);
  if (fd < 0) {
    proto::ChunkSum none{};
    uint8_t prefix[proto::kChunkFramePrefixBytes];
    manager_.on_read_done(job.id, FERRY_ESOURCECHANGED,
                          "cannot open " + job.path + ": " + std::strerror(errno), none, prefix,
                          now_ms);
    return;
  }
  auto* w = new ReadWork();
  w->req.data = w;
  w->io = this;
  w->fd = fd;
  w->buf = take_buffer(job.length);
  w->job = std::move(job);
  files_[w->job.cid].users++;
  lane_held_[w->job.lane]++;
  uv_queue_work(loop_, &w->req, read_work, read_after);
}

void UploadIo::read_work(uv_work_t* req) {
  auto* w = static_cast<ReadWork*>(req->data);
  const ReadJob& j = w->job;
  w->status = check_identity(w->fd, j.path, FileIdentity{j.size, j.mtime_ns, j.inode}, w->detail);
  if (w->status != FERRY_OK) return;
  // Slice by slice, each summed while it is in the cache: on a 4 MiB chunk the sum went from
  // ~9 GB/s (memory) to ~23 GB/s, ~0.08 CPU-s less per GiB (docs/benchmarks.md, session 10).
  constexpr uint32_t kSlice = 256u << 10;
  proto::ChunkSummer sum;
  char* data = w->buf.data.get();
  for (uint32_t at = 0; at < j.length; at += kSlice) {
    uint32_t n = std::min(kSlice, j.length - at);
    if (!pread_full(w->fd, data + at, n, j.offset + at)) {
      w->status = FERRY_ESOURCECHANGED;
      w->detail = "cannot read " + j.path + " at offset " + std::to_string(j.offset + at);
      return;
    }
    sum.update(data + at, n);
  }
  w->hash = sum.digest();
}

void UploadIo::read_after(uv_work_t* req, int) {
  auto* w = static_cast<ReadWork*>(req->data);
  w->io->finish_read(w);
}

void UploadIo::finish_read(ReadWork* w) {
  unuse_file(w->job.cid);
  uint64_t t = now();
  bool send = !stopped_ && manager_.on_read_done(w->job.id, w->status, w->detail, w->hash,
                                                 w->prefix, t);
  UvLink* to = send ? link(w->job.lane) : nullptr;
  if (to && to->connected()) {
    send_control(w->job.lane, to);
    uv_buf_t bufs[2] = {
        uv_buf_init(reinterpret_cast<char*>(w->prefix), sizeof w->prefix),
        uv_buf_init(w->buf.data.get(), w->job.length)};
    int rc = to->write_parts(bufs, 2, [this, w](int status) {
      if (status == 0) {
        stats_.chunk_bytes_written += w->job.length;
        stats_.chunks_written++;
      }
      give_buffer(std::move(w->buf));
      lane_held_[w->job.lane]--;
      delete w;
      if (!stopped_) kick_();  // buffer space freed: more reads may start
    });
    if (rc == 0) return kick_();
  }
  give_buffer(std::move(w->buf));
  lane_held_[w->job.lane]--;
  delete w;
  if (!stopped_) kick_();
}

void UploadIo::start_prepare(PrepareJob job) {
  auto* w = new PrepareWork();
  w->req.data = w;
  w->io = this;
  w->job = std::move(job);
  if (w->job.hash && w->job.size > 0) {
    auto t = std::make_shared<ChunkSumTable>();
    // The hash pass does not wait for resd's answer to the OPEN: it sums at ferry-resd's
    // chunk size. Only a guess: with a server that chooses otherwise the chunks take the
    // read path, as before.
    t->chunk = proto::resd_chunk_size(w->job.size);
    size_t n = static_cast<size_t>((w->job.size + t->chunk - 1) / t->chunk);
    t->sums.resize(n);
    t->used.assign(n, false);
    sums_[w->job.cid] = t;
    w->sums = std::move(t);
  }
  uv_queue_work(loop_, &w->req, prepare_work, prepare_after);
}

void UploadIo::prepare_work(uv_work_t* req) {
  auto* w = static_cast<PrepareWork*>(req->data);
  PrepareResult& r = w->result;
  hash_file(w->job, r, w->sums.get());
  if (r.status != FERRY_OK || !w->job.probe) return;
  r.mime = media::sniff_mime(w->job.path);
  r.kind = kind_for(w->job.kind, r.mime);
  media::MediaInfo info;
  std::string err;
  bool probed = false;
  if (r.kind == FERRY_KIND_IMAGE) probed = media::probe_image(w->job.path, info, err);
  if (r.kind == FERRY_KIND_VIDEO) probed = media::probe_video(w->job.path, info, err);
  if (!probed) return;  // an image or video we cannot decode still goes, without a preview
  r.width = static_cast<uint32_t>(std::max(0, info.width));
  r.height = static_cast<uint32_t>(std::max(0, info.height));
  r.duration_ms = static_cast<uint64_t>(std::max<int64_t>(0, info.duration_ms));
  r.thumb = std::move(info.thumb_jpeg);
}

void UploadIo::prepare_after(uv_work_t* req, int) {
  std::unique_ptr<PrepareWork> w(static_cast<PrepareWork*>(req->data));
  UploadIo* io = w->io;
  if (io->stopped_) return;
  if (w->job.probe) {
    io->manager_.on_prepared(w->job.cid, w->result, io->now());
  } else {
    io->manager_.on_hashed(w->job.cid, w->result, io->now());
  }
  io->kick_();
}

UploadIo::Buffer UploadIo::take_buffer(size_t len) {
  Buffer b;
  for (size_t i = 0; i < pool_.size(); i++) {
    if (pool_[i].cap < len) continue;
    b = std::move(pool_[i]);
    pool_.erase(pool_.begin() + static_cast<long>(i));
    break;
  }
  if (!b.data) b = Buffer{std::unique_ptr<char[]>(new char[len]), len};
  buffered_ += b.cap;
  if (buffered_ > stats_.buffer_bytes_peak.load()) stats_.buffer_bytes_peak = buffered_;
  return b;
}

void UploadIo::give_buffer(Buffer b) {
  buffered_ -= b.cap;
  // Keep free buffers only while out + pooled stays within the budget: a steady stream then
  // allocates nothing, and an idle client holds at most the budget.
  uint64_t pooled = 0;
  for (const Buffer& p : pool_) pooled += p.cap;
  if (buffered_ + pooled + b.cap <= kBufferBudget) pool_.push_back(std::move(b));
}

int UploadIo::open_file(const std::string& cid, const std::string& path) {
  File& f = files_[cid];
  f.released = false;
  if (f.fd >= 0) return f.fd;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd >= 0) posix_fadvise(f.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return f.fd;
}

void UploadIo::unuse_file(const std::string& cid) {
  auto it = files_.find(cid);
  if (it == files_.end()) return;
  if (--it->second.users == 0 && it->second.released) {
    if (it->second.fd >= 0) ::close(it->second.fd);
    files_.erase(it);
  }
}

void UploadIo::release_file(const std::string& cid) {
  sums_.erase(cid);
  auto it = files_.find(cid);
  if (it == files_.end()) return;
  it->second.released = true;
  if (it->second.users == 0) {
    if (it->second.fd >= 0) ::close(it->second.fd);
    files_.erase(it);
  }
}

}  // namespace ferry::sdk
