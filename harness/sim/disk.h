// FakeDisk: ferry-resd's data directory and file workers in the simulator, with the crash
// semantics of servers/resource/store/file_store.h:
//   - a Chunk write lands in the page cache (`data`) and is lost at a crash unless an
//     fdatasync (Persist) covered it, or the kernel happened to write it back first (each
//     unsynced write survives a crash with probability 1/2, in any combination);
//   - meta, the ledger blob, done and notify records are written tmp+fsync+rename: a crash
//     leaves the old or the new version, never a mix; Finalize is atomic (the real one is
//     idempotent at start-up, which comes to the same);
//   - jobs run on lanes like the WorkerPool's: jobs of one upload on one lane finish in the
//     order they were issued (io lane vs. sync lane), after a random service time; a crash
//     drops every job not finished.
// It also keeps the books the checker needs: the chunks a persisted ledger blob claims (via
// the real ChunkLedger::restore), the first bytes written at each chunk index, and the
// finished files by content hash.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "harness/sim/prng.h"
#include "harness/sim/sources.h"
#include "servers/resource/core/chunk_ledger.h"
#include "servers/resource/core/resd_core.h"

namespace ferry::sim {

class FakeDisk {
 public:
  FakeDisk(Sources& sources, Prng& rng) : sources_(sources), rng_(rng) {}

  // During the fault window jobs fail at this rate: Create with ENOSPC (disk_full), a chunk
  // write, Persist or Finalize with EIO. The core must retry or have the client retry.
  void set_error_rate(double p) { error_rate_ = p; }
  void submit(resource::Job&& job, int64_t now);
  int64_t next_time() const;
  // Runs the next due job's effect and returns its result.
  bool pop(int64_t now, resource::JobResult& out);
  // Power loss: unfinished jobs vanish, unsynced writes are kept or lost at random.
  void crash();
  // What FileStore::scan() would hand to a restarting server.
  void load_into(resource::ResdCore& core, int64_t now) const;

  // --- for the checker ---
  // Whether chunk `index` of upload `message_id` is durable: its upload finished, or the
  // persisted ledger claims it and the synced bytes are the source's.
  bool chunk_durable(uint64_t message_id, uint64_t index) const;
  // Bytes of the upload that are durable in that sense (the whole size once finished).
  uint64_t durable_bytes(uint64_t message_id) const;
  const std::map<std::string, std::string>& files() const { return files_; }
  bool done(uint64_t message_id) const { return done_.count(message_id) != 0; }
  bool has_partial(uint64_t message_id) const { return partials_.count(message_id) != 0; }
  const std::vector<std::string>& violations() const { return violations_; }
  uint64_t jobs_run() const { return jobs_run_; }

 private:
  struct Partial {
    resource::UploadMeta meta;
    std::string data;                                     // what reads see (page cache)
    std::string synced;                                   // what survives a crash for sure
    std::vector<std::pair<uint64_t, uint64_t>> unsynced;  // (offset, length) since last sync
    std::string blob;                                     // the persisted ledger blob ("" = none)
    std::optional<resource::ChunkLedger> durable;         // restored from `blob`
    std::map<uint64_t, proto::ChunkSum> first_written;    // index -> checksum of the first write
  };
  struct Pending {
    int64_t at = 0;
    uint64_t seq = 0;
    resource::Job job;
  };

  resource::JobResult run(resource::Job& job);
  void write_chunk(Partial& p, resource::Job& job, resource::JobResult& r);

  Sources& sources_;
  Prng& rng_;
  std::map<uint64_t, Partial> partials_;  // by message id
  std::map<uint64_t, resource::DoneRecord> done_;
  std::map<uint64_t, std::pair<uint64_t, proto::Sha256>> notify_;  // id -> (size, hash)
  std::map<std::string, std::string> files_;                       // files/<sha256 hex>
  std::vector<Pending> pending_;
  std::map<std::pair<uint64_t, bool>, int64_t> lane_free_;  // (upload, sync lane) -> busy until
  uint64_t seq_ = 0;
  uint64_t jobs_run_ = 0;
  double error_rate_ = 0;
  std::vector<std::string> violations_;
};

}  // namespace ferry::sim
