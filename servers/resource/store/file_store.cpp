// FileStore: the data directory and the blocking file work of every Job (see file_store.h).
#include "servers/resource/store/file_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "proto/chunk_sum.h"
#include "proto/hex.h"
#include "proto/json.h"

namespace ferry::resource {

// One partial upload's open data file and its incremental whole-file hash. The hash state is
// only touched by the upload's io lane; fd is shared with the sync lane (fdatasync).
struct UploadFile {
  int fd = -1;
  // The same file opened with O_DIRECT (-1 where the file system refuses it): whole aligned
  // chunks go to the disk from the payload buffer, without a copy into the page cache, which
  // was resd's largest CPU cost (issue #3). Only the io lane writes through it.
  int direct_fd = -1;
  uint64_t size = 0;
  uint32_t chunk_size = 0;
  uint64_t total = 0;
  EVP_MD_CTX* ctx = nullptr;
  uint64_t hashed = 0;       // chunks [0, hashed) are in ctx
  std::set<uint64_t> ahead;  // written chunks above the hashed prefix
  // Payloads of chunks in `ahead` kept in memory until the prefix reaches them, within the
  // store-wide budget (held_total). Without them a chunk that arrived out of order (several
  // lanes, a resend) was read back from the disk: O_DIRECT left it out of the page cache,
  // and on loopback two lanes then took twice as long as one for a GiB.
  struct Held {
    OwnedBody body;
    std::string_view payload;
  };
  std::map<uint64_t, Held> held;
  std::atomic<uint64_t>* held_total = nullptr;

  void drop_held(uint64_t index) {
    auto it = held.find(index);
    if (it == held.end()) return;
    *held_total -= it->second.payload.size();
    held.erase(it);
  }
  void drop_all_held() {
    for (auto& [index, h] : held) *held_total -= h.payload.size();
    held.clear();
  }

  UploadFile(int fd_in, int direct_fd_in, const UploadMeta& m, std::atomic<uint64_t>* total_in)
      : fd(fd_in),
        direct_fd(direct_fd_in),
        size(m.file_size),
        chunk_size(m.chunk_size),
        total(proto::chunk_count(m.file_size, m.chunk_size)),
        ctx(EVP_MD_CTX_new()),
        held_total(total_in) {
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  }
  ~UploadFile() {
    drop_all_held();
    EVP_MD_CTX_free(ctx);
    if (fd >= 0) close(fd);
    if (direct_fd >= 0) close(direct_fd);
  }
  UploadFile(const UploadFile&) = delete;
  UploadFile& operator=(const UploadFile&) = delete;
};

namespace {

// Space kept free beyond a new file, so the ledgers and records of running uploads still fit:
// 1/32 of the filesystem, at least 1 MiB and at most 64 MiB (a fixed 64 MiB would refuse
// every upload on a small volume).
uint64_t reserve_bytes(const struct statvfs& vfs) {
  uint64_t total = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
  return std::clamp<uint64_t>(total / 32, 1ull << 20, 64ull << 20);
}
constexpr size_t kScratchBytes = kLargeChunkBytes;

std::string hex_of(const proto::Sha256& h) {
  return proto::hex_encode(std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

bool sha_from_hex(const std::string& text, proto::Sha256& out) {
  std::string raw;
  if (!proto::hex_decode(text, raw) || raw.size() != out.size()) return false;
  std::memcpy(out.data(), raw.data(), out.size());
  return true;
}

std::string errno_text(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

JobResult failed(const Job& job, int err, const std::string& message) {
  JobResult r;
  r.kind = job.kind;
  r.message_id = job.message_id;
  r.ok = false;
  r.error = err;
  r.message = message;
  return r;
}

JobResult succeeded(const Job& job) {
  JobResult r;
  r.kind = job.kind;
  r.message_id = job.message_id;
  r.ok = true;
  return r;
}

bool write_all(int fd, const char* p, size_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t w = pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return true;
}

// A second descriptor for O_DIRECT writes, or -1 (tmpfs and some others refuse the flag; the
// upload then writes through the page cache as before).
int open_direct(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
}

bool read_all(int fd, char* p, size_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t r = pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0) errno = EIO;  // the file is shorter than it must be
      return false;
    }
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

// Writes `name` in the directory `dir_fd` so that after a crash it holds either the old
// content or all of `data`: tmp file, rename over; with `sync` (power loss too) the file is
// fsynced before the rename and the directory after it.
bool write_atomic(int dir_fd, const std::string& name, std::string_view data, bool sync,
                  int& err) {
  std::string tmp = name + ".tmp";
  int fd = openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    err = errno;
    return false;
  }
  bool ok = write_all(fd, data.data(), data.size(), 0) && (!sync || fsync(fd) == 0);
  err = ok ? 0 : errno;
  close(fd);
  if (ok && renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (ok && sync && fsync(dir_fd) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) unlinkat(dir_fd, tmp.c_str(), 0);
  return ok;
}

bool write_durable(int dir_fd, const std::string& name, std::string_view data, int& err) {
  return write_atomic(dir_fd, name, data, true, err);
}

bool read_small(int dir_fd, const std::string& name, std::string& out) {
  int fd = openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out.clear();
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return n == 0;
}

int open_dir(const std::string& path) {
  mkdir(path.c_str(), 0755);
  return open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> names;
  if (DIR* d = opendir(path.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    }
    closedir(d);
  }
  return names;
}

// "<digits><ext>" -> message id.
bool id_from_name(const std::string& name, const std::string& ext, uint64_t& id) {
  if (name.size() <= ext.size() || name.compare(name.size() - ext.size(), ext.size(), ext) != 0) {
    return false;
  }
  std::string digits = name.substr(0, name.size() - ext.size());
  if (digits.empty() || digits.size() > 19 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  id = std::stoull(digits);
  return true;
}

std::string meta_json(const UploadMeta& m) {
  proto::Json j = proto::json_object();
  proto::json_set_u64(j.get(), "message_id", m.message_id);
  proto::json_set_u64(j.get(), "user_id", m.user_id);
  proto::json_set_u64(j.get(), "size", m.file_size);
  proto::json_set_u64(j.get(), "chunk_size", m.chunk_size);
  proto::json_set_string(j.get(), "sha256", hex_of(m.file_hash));
  proto::json_set_i64(j.get(), "created_ms", m.created_ms);
  return proto::json_print(j.get()) + "\n";
}

bool parse_meta(const std::string& text, UploadMeta& m) {
  proto::Json j = proto::json_parse(text.substr(0, text.find_last_not_of('\n') + 1));
  std::string err, sha;
  uint64_t chunk = 0, created = 0;
  if (!j || !proto::json_get_u64(j.get(), "message_id", m.message_id, err) ||
      !proto::json_get_u64(j.get(), "user_id", m.user_id, err) ||
      !proto::json_get_u64(j.get(), "size", m.file_size, err) ||
      !proto::json_get_u64(j.get(), "chunk_size", chunk, err) ||
      !proto::json_get_string(j.get(), "sha256", sha, err) ||
      !proto::json_opt_u64(j.get(), "created_ms", created, err) ||
      !sha_from_hex(sha, m.file_hash) || chunk == 0 || chunk > proto::kMaxChunkBytes) {
    return false;
  }
  m.chunk_size = static_cast<uint32_t>(chunk);
  m.created_ms = static_cast<int64_t>(created);
  return true;
}

std::string done_json(const UploadMeta& m) {
  proto::Json j = proto::json_object();
  proto::json_set_u64(j.get(), "message_id", m.message_id);
  proto::json_set_u64(j.get(), "user_id", m.user_id);
  proto::json_set_u64(j.get(), "size", m.file_size);
  proto::json_set_u64(j.get(), "chunk_size", m.chunk_size);
  proto::json_set_string(j.get(), "sha256", hex_of(m.file_hash));
  return proto::json_print(j.get()) + "\n";
}

std::string notify_json(const UploadMeta& m) {
  proto::Json j = proto::json_object();
  proto::json_set_u64(j.get(), "message_id", m.message_id);
  proto::json_set_u64(j.get(), "size", m.file_size);
  proto::json_set_string(j.get(), "sha256", hex_of(m.file_hash));
  return proto::json_print(j.get()) + "\n";
}

}  // namespace

FileStore::FileStore() = default;

FileStore::~FileStore() {
  files_.clear();
  for (int fd : {partial_dir_fd_, done_dir_fd_, notify_dir_fd_}) {
    if (fd >= 0) close(fd);
  }
}

bool FileStore::open(const std::string& dir, bool sync_every_ack, std::string& err) {
  dir_ = dir;
  sync_every_ack_ = sync_every_ack;
  mkdir(dir.c_str(), 0755);
  mkdir((dir + "/files").c_str(), 0755);
  partial_dir_fd_ = open_dir(dir + "/partial");
  done_dir_fd_ = open_dir(dir + "/done");
  notify_dir_fd_ = open_dir(dir + "/notify");
  if (partial_dir_fd_ < 0 || done_dir_fd_ < 0 || notify_dir_fd_ < 0) {
    err = errno_text("cannot open the data directory " + dir, errno);
    return false;
  }
  return true;
}

std::string FileStore::partial_path(uint64_t message_id, const char* ext) const {
  return dir_ + "/partial/" + std::to_string(message_id) + ext;
}

std::string FileStore::final_path(const proto::Sha256& hash) const {
  std::string h = hex_of(hash);
  return dir_ + "/files/" + h.substr(0, 2) + "/" + h;
}

std::shared_ptr<UploadFile> FileStore::get(uint64_t message_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(message_id);
  return it == files_.end() ? nullptr : it->second;
}

std::shared_ptr<UploadFile> FileStore::take(uint64_t message_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(message_id);
  if (it == files_.end()) return nullptr;
  auto f = std::move(it->second);
  files_.erase(it);
  return f;
}

StoreScan FileStore::scan() {
  StoreScan s;
  std::string partial = dir_ + "/partial";
  std::vector<std::string> names = list_dir(partial);
  std::set<uint64_t> with_meta;
  for (const std::string& name : names) {
    uint64_t id = 0;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
      unlinkat(partial_dir_fd_, name.c_str(), 0);
      continue;
    }
    if (id_from_name(name, ".meta", id)) with_meta.insert(id);
  }
  auto drop = [&](uint64_t id, const std::string& why) {
    for (const char* ext : {".data", ".meta", ".ledger"}) unlink(partial_path(id, ext).c_str());
    s.notes.push_back("partial upload " + std::to_string(id) + ": " + why);
  };
  for (uint64_t id : with_meta) {
    std::string text, blob, ignored;
    UploadMeta m;
    if (!read_small(partial_dir_fd_, std::to_string(id) + ".meta", text) || !parse_meta(text, m) ||
        m.message_id != id) {
      drop(id, "unreadable meta, removed");
      continue;
    }
    if (read_small(done_dir_fd_, std::to_string(id) + ".json", ignored)) {
      drop(id, "already finished, leftovers removed");
      continue;
    }
    int fd = ::open(partial_path(id, ".data").c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      struct stat st;
      if (stat(final_path(m.file_hash).c_str(), &st) == 0 &&
          static_cast<uint64_t>(st.st_size) == m.file_size) {
        // Crashed inside Finalize after the rename: finish it.
        int err = 0;
        std::string name = std::to_string(id) + ".json";
        if (write_durable(done_dir_fd_, name, done_json(m), err) &&
            write_durable(notify_dir_fd_, name, notify_json(m), err)) {
          unlinkat(partial_dir_fd_, (std::to_string(id) + ".meta").c_str(), 0);
          unlinkat(partial_dir_fd_, (std::to_string(id) + ".ledger").c_str(), 0);
          fsync(partial_dir_fd_);
          s.notes.push_back("upload " + std::to_string(id) + ": finished an interrupted finalize");
        }
        continue;
      }
      drop(id, "data file missing, removed");
      continue;
    }
    if (!read_small(partial_dir_fd_, std::to_string(id) + ".ledger", blob)) blob.clear();
    int64_t last_active = m.created_ms;
    struct stat st;
    if (fstatat(partial_dir_fd_, (std::to_string(id) + ".ledger").c_str(), &st, 0) == 0) {
      last_active = std::max<int64_t>(last_active, static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 +
                                                       st.st_mtim.tv_nsec / 1000000);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      files_[id] = std::make_shared<UploadFile>(fd, open_direct(partial_path(id, ".data")), m,
                                                  &held_total_);
    }
    s.partials.push_back({m, std::move(blob), last_active});
  }
  for (const std::string& name : names) {
    uint64_t id = 0;
    if (id_from_name(name, ".data", id) && !with_meta.count(id)) {
      // Create crashed before its meta, or a finished duplicate's Discard never ran.
      unlinkat(partial_dir_fd_, name.c_str(), 0);
      s.notes.push_back("partial upload " + std::to_string(id) + ": no meta, data removed");
    }
  }
  for (const std::string& name : list_dir(dir_ + "/done")) {
    uint64_t id = 0;
    std::string text;
    UploadMeta m;
    if (!id_from_name(name, ".json", id)) continue;
    if (!read_small(done_dir_fd_, name, text) || !parse_meta(text, m)) {
      s.notes.push_back("done record " + name + " unreadable; ignored");
      continue;
    }
    s.done.push_back({id, DoneRecord{m.user_id, m.file_size, m.chunk_size, m.file_hash}});
  }
  for (const std::string& name : list_dir(dir_ + "/notify")) {
    uint64_t id = 0;
    std::string text, sha, err;
    if (!id_from_name(name, ".json", id) || !read_small(notify_dir_fd_, name, text)) continue;
    proto::Json j = proto::json_parse(text.substr(0, text.find_last_not_of('\n') + 1));
    StoreScan::Outbox o;
    o.message_id = id;
    if (!j || !proto::json_get_u64(j.get(), "size", o.size, err) ||
        !proto::json_get_string(j.get(), "sha256", sha, err) || !sha_from_hex(sha, o.hash)) {
      s.notes.push_back("outbox record " + name + " unreadable; ignored");
      continue;
    }
    s.outbox.push_back(o);
  }
  return s;
}

void FileStore::ensure_scratch(WorkerScratch& scratch) {
  if (!scratch.buffer) {
    scratch.buffer = std::make_unique_for_overwrite<char[]>(kScratchBytes);
    scratch.size = kScratchBytes;
  }
}

JobResult FileStore::run(Job& job, WorkerScratch& scratch) {
  ensure_scratch(scratch);
  switch (job.kind) {
    case JobKind::Create:
      return create(job);
    case JobKind::Chunk:
      return chunk(job);
    case JobKind::Persist:
      return persist(job);
    case JobKind::Bind:
      return bind(job);
    case JobKind::Verify:
      return verify(job, scratch);
    case JobKind::Finalize:
      return finalize(job);
    case JobKind::Delete:
      return remove(job);
    case JobKind::Unnotify:
      return unnotify(job);
    case JobKind::Discard:
      return discard(job);
    case JobKind::Flush:
      return flush(job);
  }
  return failed(job, EINVAL, "unknown job");
}

JobResult FileStore::create(const Job& job) {
  const UploadMeta& m = job.meta;
  struct statvfs vfs;
  if (statvfs(dir_.c_str(), &vfs) == 0) {
    uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    uint64_t reserve = reserve_bytes(vfs);
    if (m.file_size > free_bytes || free_bytes - m.file_size < reserve) {
      return failed(job, ENOSPC,
                    "needs " + std::to_string(m.file_size) + " bytes + " +
                        std::to_string(reserve) + " reserve, " + std::to_string(free_bytes) +
                        " free");
    }
  }
  std::string data = partial_path(m.message_id, ".data");
  int fd = ::open(data.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return failed(job, errno, errno_text("open " + data, errno));
  if (m.file_size > 0) {
    // Reserves every block now: a full disk shows up here, as disk_full on OPEN, not as a
    // failed write halfway through, and writes never extend the file (cheaper fdatasync).
    int rc = posix_fallocate(fd, 0, static_cast<off_t>(m.file_size));
    if (rc != 0) {
      close(fd);
      unlink(data.c_str());
      return failed(job, rc == EDQUOT ? ENOSPC : rc, errno_text("preallocate " + data, rc));
    }
  }
  int err = 0;
  unlinkat(partial_dir_fd_, (std::to_string(m.message_id) + ".ledger").c_str(), 0);
  if (!write_durable(partial_dir_fd_, std::to_string(m.message_id) + ".meta", meta_json(m), err)) {
    close(fd);
    unlink(data.c_str());
    return failed(job, err == EDQUOT ? ENOSPC : err, errno_text("write meta", err));
  }
  std::lock_guard<std::mutex> lock(mu_);
  files_[m.message_id] = std::make_shared<UploadFile>(fd, open_direct(data), m, &held_total_);
  return succeeded(job);
}

// Extends the hashed prefix over the chunks written ahead of it (from memory where they were
// held, else read back from the disk), or (`all`) over everything that is left.
bool FileStore::advance_hash(UploadFile& f, bool all, WorkerScratch& scratch, std::string& err) {
  while (f.hashed < f.total) {
    if (!all && f.ahead.count(f.hashed) == 0) break;
    if (auto h = f.held.find(f.hashed); h != f.held.end()) {
      EVP_DigestUpdate(f.ctx, h->second.payload.data(), h->second.payload.size());
      f.drop_held(f.hashed);
    } else if (!hash_from_disk(f, scratch, err)) {
      return false;
    }
    f.ahead.erase(f.hashed);
    f.hashed++;
  }
  return true;
}

// Folds chunk f.hashed into the hash by reading it back from the data file.
bool FileStore::hash_from_disk(UploadFile& f, WorkerScratch& scratch, std::string& err) {
  uint64_t len = proto::chunk_length(f.size, f.chunk_size, f.hashed);
  uint64_t offset = f.hashed * f.chunk_size;
  for (uint64_t done = 0; done < len;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(len - done, scratch.size));
    if (!read_all(f.fd, scratch.buffer.get(), n, offset + done)) {
      err = errno_text("read back chunk " + std::to_string(f.hashed), errno);
      return false;
    }
    EVP_DigestUpdate(f.ctx, scratch.buffer.get(), n);
    done += n;
  }
  return true;
}

// Writes a verified payload at `offset`: with O_DIRECT when buffer, offset and length are all
// block aligned (every chunk but a short tail; frame_reader.h aligns the payload), else, or if
// the file system turns the direct write down, through the page cache.
bool FileStore::write_chunk(UploadFile& f, std::string_view p, uint64_t offset) {
  auto aligned = [](uint64_t v) { return v % kPayloadAlign == 0; };
  if (f.direct_fd >= 0 && aligned(reinterpret_cast<uintptr_t>(p.data())) && aligned(offset) &&
      aligned(p.size())) {
    if (write_all(f.direct_fd, p.data(), p.size(), offset)) return true;
    if (errno != EINVAL) return false;
    close(f.direct_fd);  // this file system takes O_DIRECT opens but not the writes
    f.direct_fd = -1;
  }
  return write_all(f.fd, p.data(), p.size(), offset);
}

JobResult FileStore::chunk(Job& job) {
  JobResult r = succeeded(job);
  r.conn = job.conn;
  r.index = job.index;
  r.length = job.payload_len;
  r.claimed = job.claimed;
  std::string_view p = job.payload();
  r.computed = job.computed ? *job.computed : proto::chunk_sum(p.data(), p.size());
  if (r.computed != r.claimed) {
    r.ok = false;  // not written: the ledger NACKs it as bad_hash
  } else if (std::shared_ptr<UploadFile> f = get(job.message_id); !f) {
    r.ok = false;
    r.message = "upload file not open";
  } else if (!write_chunk(*f, p, job.offset)) {
    r.ok = false;
    r.error = errno;
    r.message = errno_text("write", errno);
  }
  if (!r.ok) job.body.release();  // the payload's memory goes back now
  return r;
}

void FileStore::hash_chunk(Job& job, WorkerScratch& scratch) {
  ensure_scratch(scratch);
  std::shared_ptr<UploadFile> f = get(job.message_id);
  if (f && job.index == f->hashed) {
    // The prefix grows by this chunk, hashed from memory; then by any written ahead of it.
    std::string_view p = job.payload();
    EVP_DigestUpdate(f->ctx, p.data(), p.size());
    f->hashed++;
    // A read-back failure only defers the work: Verify reads whatever is still missing.
    std::string err;
    (void)advance_hash(*f, false, scratch, err);
  } else if (f && job.index > f->hashed) {
    f->ahead.insert(job.index);
    std::string_view p = job.payload();
    if (f->held.count(job.index) == 0) {  // else a duplicate: the first copy is held
      // Reserve first: the hash lanes of other uploads run on other threads.
      if (held_total_.fetch_add(p.size()) + p.size() <= kMaxHeldBytes) {
        f->held.emplace(job.index, UploadFile::Held{std::move(job.body), p});
        return;
      }
      held_total_ -= p.size();  // over budget: read back from the disk later
    }
  }
  job.body.release();  // the payload's memory goes back now, not when the job is dropped
}

JobResult FileStore::persist(Job& job) {
  std::shared_ptr<UploadFile> f = get(job.message_id);
  JobResult r;
  if (!f) {
    r = failed(job, ENOENT, "upload file not open");
  } else if (sync_every_ack_ && fdatasync(f->fd) != 0) {
    r = failed(job, errno, errno_text("fdatasync", errno));
  } else {
    // Without per-ack syncs, start writing the chunks back now (it does not wait for the
    // disk) so the file is mostly on disk by the time finalize() syncs it.
    if (!sync_every_ack_) sync_file_range(f->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    int err = 0;
    if (write_atomic(partial_dir_fd_, std::to_string(job.message_id) + ".ledger", job.blob,
                     sync_every_ack_, err)) {
      r = succeeded(job);
    } else {
      r = failed(job, err, errno_text("write ledger", err));
    }
  }
  r.generation = job.generation;
  if (!r.ok) r.blob = std::move(job.blob);
  return r;
}

// The hash of an unbound upload became known: the meta is replaced atomically and durably,
// so a restart finds the upload bound (its ledger blob may predate the bind; the meta wins).
JobResult FileStore::bind(const Job& job) {
  int err = 0;
  if (!write_durable(partial_dir_fd_, std::to_string(job.message_id) + ".meta",
                     meta_json(job.meta), err)) {
    return failed(job, err == EDQUOT ? ENOSPC : err, errno_text("write meta", err));
  }
  return succeeded(job);
}

JobResult FileStore::verify(const Job& job, WorkerScratch& scratch) {
  std::shared_ptr<UploadFile> f = get(job.message_id);
  if (!f) return failed(job, ENOENT, "upload file not open");
  std::string err;
  if (!advance_hash(*f, true, scratch, err)) return failed(job, EIO, err);
  proto::Sha256 got;
  unsigned int len = 0;
  EVP_DigestFinal_ex(f->ctx, got.data(), &len);
  // The context is spent; start it over in case the upload is hashed again.
  EVP_DigestInit_ex(f->ctx, EVP_sha256(), nullptr);
  f->hashed = 0;
  f->ahead.clear();
  f->drop_all_held();
  if (got != job.meta.file_hash) {
    return failed(job, 0,
                  "file hashes to " + hex_of(got) + ", ticket says " + hex_of(job.meta.file_hash));
  }
  return succeeded(job);
}

JobResult FileStore::finalize(const Job& job) {
  const UploadMeta& m = job.meta;
  std::string id = std::to_string(m.message_id);
  std::string h = hex_of(m.file_hash);
  std::string sub = dir_ + "/files/" + h.substr(0, 2);
  std::string target = sub + "/" + h;
  std::string data = partial_path(m.message_id, ".data");
  if (mkdir(sub.c_str(), 0755) == 0) {
    int files_fd = ::open((dir_ + "/files").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (files_fd >= 0) {
      fsync(files_fd);
      close(files_fd);
    }
  } else if (errno != EEXIST) {
    return failed(job, errno, errno_text("mkdir " + sub, errno));
  }
  bool have_data = access(data.c_str(), F_OK) == 0;
  bool stored = access(target.c_str(), F_OK) == 0;
  if (!have_data && !stored) {
    return failed(job, ENOENT, "neither " + data + " nor " + target + " exists");
  }
  // Content-addressed, and this content (the same SHA-256, verified) may be stored already:
  // then that copy stays. Renaming over it would free the old copy's blocks inside this job,
  // and READY would wait for that (0.27 s for 1 GiB on ext4 here); the data file is removed
  // by a Discard after READY instead (or at start-up, as a data file without meta).
  bool duplicate = have_data && stored;
  if (have_data && !duplicate) {
    if (!sync_every_ack_) {
      // The chunks were acked from the page cache: the file must reach the disk before it is
      // moved into place and announced READY.
      std::shared_ptr<UploadFile> f = get(m.message_id);
      int fd = f ? f->fd : ::open(data.c_str(), O_RDONLY | O_CLOEXEC);
      bool synced = fd >= 0 && fdatasync(fd) == 0;
      int e = errno;
      if (!f && fd >= 0) close(fd);
      if (!synced) return failed(job, e, errno_text("fdatasync " + data, e));
    }
    if (rename(data.c_str(), target.c_str()) != 0) {
      return failed(job, errno, errno_text("rename into " + target, errno));
    }
    int sub_fd = ::open(sub.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool synced = sub_fd >= 0 && fsync(sub_fd) == 0;
    if (sub_fd >= 0) close(sub_fd);
    if (!synced || fsync(partial_dir_fd_) != 0) {
      return failed(job, errno, errno_text("fsync " + sub, errno));
    }
  }
  int err = 0;
  if (!write_durable(done_dir_fd_, id + ".json", done_json(m), err) ||
      !write_durable(notify_dir_fd_, id + ".json", notify_json(m), err)) {
    return failed(job, err, errno_text("write done/notify record", err));
  }
  unlinkat(partial_dir_fd_, (id + ".meta").c_str(), 0);
  unlinkat(partial_dir_fd_, (id + ".ledger").c_str(), 0);
  fsync(partial_dir_fd_);
  take(m.message_id);  // closes the data fd
  JobResult r = succeeded(job);
  r.duplicate = duplicate;
  return r;
}

JobResult FileStore::remove(const Job& job) {
  take(job.message_id);
  std::string id = std::to_string(job.message_id);
  for (const char* ext : {".data", ".meta", ".ledger", ".ledger.tmp", ".meta.tmp"}) {
    unlinkat(partial_dir_fd_, (id + ext).c_str(), 0);
  }
  fsync(partial_dir_fd_);
  return succeeded(job);
}

JobResult FileStore::discard(const Job& job) {
  // No fsync: a data file that comes back after a crash has no meta and is removed at start.
  unlinkat(partial_dir_fd_, (std::to_string(job.message_id) + ".data").c_str(), 0);
  return succeeded(job);
}

// On the flush lane, beside the upload's io lane: the O_DIRECT writes are on the device, and
// this makes the device keep them, while later chunks go on being written. The upload may
// finish meanwhile: the shared file keeps its descriptor open until this returns.
JobResult FileStore::flush(const Job& job) {
  std::shared_ptr<UploadFile> f = get(job.message_id);
  if (!f) return succeeded(job);  // finished or gone: its own sync did the work
  if (fdatasync(f->fd) != 0) return failed(job, errno, errno_text("fdatasync", errno));
  return succeeded(job);
}

JobResult FileStore::unnotify(const Job& job) {
  // No fsync: if the unlink is lost in a crash, upload_done is sent once more (idempotent).
  unlinkat(notify_dir_fd_, (std::to_string(job.message_id) + ".json").c_str(), 0);
  return succeeded(job);
}

}  // namespace ferry::resource
