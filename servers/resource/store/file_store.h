// FileStore: ferry-resd's data directory and every blocking file operation a Job names
// (servers/resource/core/resd_core.h). Runs on the file workers (workers.h), never on the
// network loop. Jobs of one upload on one lane arrive in order; different uploads and the
// lanes run concurrently, so the per-upload state is looked up under a mutex and each
// UploadFile's hashing state is only touched by its upload's hash lane (hash_chunk, Verify).
//
// Layout under DIR (paths chosen by the server, never from a client):
//   partial/<message_id>.data     the file being received, preallocated to its full size
//   partial/<message_id>.meta     JSON: user, size, chunk size, sha256, created_ms
//   partial/<message_id>.ledger   the ChunkLedger blob (replaced via .ledger.tmp + rename)
//   files/<sha256[0:2]>/<sha256>  finished files, content-addressed (one copy per content)
//   done/<message_id>.json        finished uploads: user, size, chunk size, sha256
//   notify/<message_id>.json      outbox: upload_done not yet answered by the chat server
//
// Crash safety, in the order the operations happen:
//   Create    data file preallocated, then meta (tmp+fsync+rename), dir fsynced. A data file
//             without meta is debris and removed at start.
//   Persist   fdatasync(data) THEN ledger blob tmp+fsync+rename+fsync(dir): every chunk the
//             blob lists is on disk before the blob is.
//   Bind      meta rewritten (tmp+fsync+rename) with the hash of a bound ticket; the
//             ledger counts as bound only after that (a blob from before says zeros).
//   Finalize  rename data into files/ + fsync dirs, THEN done + notify records, THEN remove
//             meta and ledger. At start a partial whose data is gone but whose file is in
//             files/ is completed again (idempotent); one with a done record is debris.
//             Content already in files/ stays: the data file is left for Discard (after
//             READY), and one left by a crash has no meta any more, so it is debris.
//
// Implemented:
//   [x] posix_fallocate preallocation; a statvfs check first so a file that cannot fit is
//       refused at once (disk_full) without filling the disk on the way
//   [x] XXH3-128 of each chunk (proto/chunk_sum.h), pwrite at its offset: O_DIRECT from the
//       (aligned) payload buffer where the file system allows it, so the page-cache copy that
//       cost ~1.3 CPU-seconds per GiB is gone; short tails and the rest go through the cache
//   [x] whole-file SHA-256 computed incrementally as the contiguous prefix grows (chunks
//       written ahead are kept in memory until the prefix reaches them, up to
//       kMaxHeldBytes over all uploads; beyond that they are read back from the disk), so
//       Verify usually has nothing left to read; after a restart it reads what remains once
//   [ ] io_uring / several writes in flight per upload (one 4 MiB O_DIRECT write at a time
//       already runs at ~1.2 GB/s on this machine's disk)
//   [ ] an index for done/ records (all are loaded into memory at start)
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "servers/resource/core/resd_core.h"

namespace ferry::resource {

struct UploadFile;

// What start-up found on disk.
struct StoreScan {
  struct Partial {
    UploadMeta meta;
    std::string blob;  // empty if none
    int64_t last_active_ms = 0;
  };
  struct Outbox {
    uint64_t message_id = 0;
    uint64_t size = 0;
    proto::Sha256 hash{};
  };
  std::vector<Partial> partials;
  std::vector<std::pair<uint64_t, DoneRecord>> done;
  std::vector<Outbox> outbox;
  std::vector<std::string> notes;  // what was cleaned up, for the log
};

// Per-worker scratch memory (one per io lane), so re-reads allocate nothing.
struct WorkerScratch {
  std::unique_ptr<char[]> buffer;
  size_t size = 0;
};

class FileStore {
 public:
  FileStore();
  ~FileStore();
  FileStore(const FileStore&) = delete;
  FileStore& operator=(const FileStore&) = delete;

  // Creates the layout under `dir` if needed and opens its directories. `sync_every_ack`
  // (ferry-resd --sync full) makes every Persist fdatasync the data and fsync the ledger, so
  // acked chunks survive power loss; without it a Persist writes the ledger atomically into
  // the page cache and starts the data's write-back (acked chunks survive kill -9 and
  // crashes of the process), and finalize() syncs the whole file before it is moved into place.
  bool open(const std::string& dir, bool sync_every_ack, std::string& err);
  // Loads partial uploads (opening their data files), done records and the outbox, and
  // removes debris. Call once, before any job runs.
  StoreScan scan();
  // Runs one job to completion (blocking). Safe from several threads as described above.
  // A Chunk job only checks and writes; when its result is ok the caller then passes the
  // job (its payload still held) to hash_chunk on the upload's hash lane, in write order.
  JobResult run(Job& job, WorkerScratch& scratch);
  // Extends the upload's whole-file SHA-256 by a written chunk (or notes it as written ahead
  // of the hashed prefix), then frees the payload.
  void hash_chunk(Job& job, WorkerScratch& scratch);

  const std::string& dir() const { return dir_; }
  std::string final_path(const proto::Sha256& hash) const;

 private:
  JobResult create(const Job& job);
  JobResult chunk(Job& job);
  static bool write_chunk(UploadFile& f, std::string_view payload, uint64_t offset);
  static void ensure_scratch(WorkerScratch& scratch);
  JobResult persist(Job& job);
  JobResult bind(const Job& job);
  JobResult verify(const Job& job, WorkerScratch& scratch);
  JobResult finalize(const Job& job);
  JobResult remove(const Job& job);
  JobResult unnotify(const Job& job);
  JobResult discard(const Job& job);
  JobResult flush(const Job& job);

  std::shared_ptr<UploadFile> get(uint64_t message_id);
  std::shared_ptr<UploadFile> take(uint64_t message_id);
  std::string partial_path(uint64_t message_id, const char* ext) const;
  bool advance_hash(UploadFile& f, bool all, WorkerScratch& scratch, std::string& err);
  static bool hash_from_disk(UploadFile& f, WorkerScratch& scratch, std::string& err);

  std::string dir_;
  bool sync_every_ack_ = true;
  int partial_dir_fd_ = -1;
  int done_dir_fd_ = -1;
  int notify_dir_fd_ = -1;
  std::mutex mu_;  // guards files_
  std::unordered_map<uint64_t, std::shared_ptr<UploadFile>> files_;
  // Out-of-order payloads held for the hash, over all uploads. The SDK keeps at most 32 MiB
  // in flight per client, so this covers a couple of multi-lane uploads at once.
  static constexpr uint64_t kMaxHeldBytes = 128u << 20;
  std::atomic<uint64_t> held_total_{0};
};

}  // namespace ferry::resource
