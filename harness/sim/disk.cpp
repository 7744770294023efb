// FakeDisk (see disk.h for the crash semantics it models).
#include "harness/sim/disk.h"

#include <algorithm>
#include <cerrno>

#include "proto/chunk_sum.h"

namespace ferry::sim {

using resource::Job;
using resource::JobKind;
using resource::JobResult;

void FakeDisk::submit(Job&& job, int64_t now) {
  // Service times: a chunk write or hash is fast; an fsync pair is slow; both vary.
  bool sync = job.sync_lane();
  int64_t service =
      sync ? static_cast<int64_t>(rng_.range(1, 12)) : static_cast<int64_t>(rng_.range(0, 3));
  int64_t& free_at = lane_free_[{job.message_id, sync}];
  int64_t at = std::max(free_at, now) + service;
  free_at = at;
  pending_.push_back(Pending{at, seq_++, std::move(job)});
}

int64_t FakeDisk::next_time() const {
  int64_t t = INT64_MAX;
  for (const Pending& p : pending_) t = std::min(t, p.at);
  return t;
}

bool FakeDisk::pop(int64_t now, JobResult& out) {
  auto best = pending_.end();
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->at > now) continue;
    if (best == pending_.end() || it->at < best->at ||
        (it->at == best->at && it->seq < best->seq)) {
      best = it;
    }
  }
  if (best == pending_.end()) return false;
  Job job = std::move(best->job);
  pending_.erase(best);
  out = run(job);
  jobs_run_++;
  return true;
}

void FakeDisk::crash() {
  pending_.clear();
  lane_free_.clear();
  for (auto& [id, p] : partials_) {
    for (const auto& [offset, length] : p.unsynced) {
      if (rng_.chance(0.5)) p.synced.replace(offset, length, p.data, offset, length);
    }
    p.unsynced.clear();
    p.data = p.synced;
  }
}

void FakeDisk::load_into(resource::ResdCore& core, int64_t now) const {
  for (const auto& [id, p] : partials_) core.load_partial(p.meta, p.blob, now);
  for (const auto& [id, d] : done_) core.load_done(id, d);
  for (const auto& [id, n] : notify_) core.load_outbox(id, n.first, n.second, now);
}

bool FakeDisk::chunk_durable(uint64_t message_id, uint64_t index) const {
  if (done_.count(message_id)) return true;
  auto it = partials_.find(message_id);
  if (it == partials_.end()) return false;
  const Partial& p = it->second;
  if (!p.durable || index >= p.durable->total_chunks() || !p.durable->is_durable(index)) {
    return false;
  }
  uint64_t off = index * p.meta.chunk_size;
  uint64_t len = proto::chunk_length(p.meta.file_size, p.meta.chunk_size, index);
  std::string_view synced = std::string_view(p.synced).substr(off, len);
  if (p.meta.file_hash == proto::Sha256{}) {
    // Hash later: not bound yet, so no single source to compare with; the bound hash is
    // checked by Verify and the stored file against its source at the end.
    return sources_.any_holds(p.meta.file_size, off, synced);
  }
  const std::string* src = sources_.find(hex_of(p.meta.file_hash));
  return src && synced == std::string_view(*src).substr(off, len);
}

uint64_t FakeDisk::durable_bytes(uint64_t message_id) const {
  if (auto d = done_.find(message_id); d != done_.end()) return d->second.file_size;
  auto it = partials_.find(message_id);
  if (it == partials_.end()) return 0;
  const resource::UploadMeta& m = it->second.meta;
  uint64_t bytes = 0;
  for (uint64_t i = 0; i < proto::chunk_count(m.file_size, m.chunk_size); i++) {
    if (chunk_durable(message_id, i)) bytes += proto::chunk_length(m.file_size, m.chunk_size, i);
  }
  return bytes;
}

void FakeDisk::write_chunk(Partial& p, Job& job, JobResult& r) {
  std::string_view payload = job.payload();
  r.computed = proto::chunk_sum(payload.data(), payload.size());
  r.ok = true;
  if (r.computed != r.claimed) return;  // the real worker writes only a matching payload
  if (job.offset + payload.size() > p.data.size()) {
    r.ok = false;
    r.error = EIO;  // the core never asks this; report it rather than crash
    violations_.push_back("resd wrote chunk " + std::to_string(job.index) + " of upload " +
                          std::to_string(job.message_id) + " past the end of its file");
    return;
  }
  auto [first, fresh] = p.first_written.emplace(job.index, r.computed);
  if (!fresh && first->second != r.computed) {
    violations_.push_back("chunk " + std::to_string(job.index) + " of upload " +
                          std::to_string(job.message_id) +
                          " was accepted twice with different content");
  }
  const std::string* src = sources_.find(hex_of(p.meta.file_hash));
  if (src && std::string_view(*src).substr(job.offset, payload.size()) != payload) {
    violations_.push_back("chunk " + std::to_string(job.index) + " of upload " +
                          std::to_string(job.message_id) +
                          " was accepted with bytes that differ from the source");
  }
  p.data.replace(job.offset, payload.size(), payload.data(), payload.size());
  p.unsynced.emplace_back(job.offset, payload.size());
}

JobResult FakeDisk::run(Job& job) {
  JobResult r;
  r.kind = job.kind;
  r.message_id = job.message_id;
  r.conn = job.conn;
  r.index = job.index;
  r.length = job.payload_len;
  r.claimed = job.claimed;
  r.generation = job.generation;
  auto it = partials_.find(job.message_id);
  bool inject = error_rate_ > 0 && rng_.chance(error_rate_);
  if (inject && job.kind == JobKind::Create) {
    r.ok = false;
    r.error = ENOSPC;
    r.message = "no space left on device (injected)";
    return r;
  }
  if (inject && (job.kind == JobKind::Persist || job.kind == JobKind::Finalize ||
                 job.kind == JobKind::Bind)) {
    r.ok = false;
    r.error = EIO;
    r.message = "I/O error (injected)";
    r.blob = std::move(job.blob);  // handed back so the core can retry the Persist
    return r;
  }
  switch (job.kind) {
    case JobKind::Create: {
      Partial& p = partials_[job.message_id];
      p = Partial{};
      p.meta = job.meta;
      p.data.assign(job.meta.file_size, '\0');
      p.synced = p.data;
      r.ok = true;
      break;
    }
    case JobKind::Chunk:
      if (it == partials_.end()) {
        r.ok = false;
        r.error = ENOENT;
        r.message = "no partial upload";
        break;
      }
      if (inject) {
        r.computed = proto::chunk_sum(job.payload().data(), job.payload().size());
        r.ok = false;  // hashed fine, the write failed: NACK write_failed
        r.error = EIO;
        r.message = "I/O error (injected)";
        break;
      }
      write_chunk(it->second, job, r);
      break;
    case JobKind::Persist: {
      if (it == partials_.end()) {
        r.ok = false;
        r.message = "no partial upload";
        break;
      }
      Partial& p = it->second;
      // fdatasync(data) first (copying only the dirty ranges: files reach 8 MiB) ...
      for (const auto& [offset, length] : p.unsynced) {
        p.synced.replace(offset, length, p.data, offset, length);
      }
      p.unsynced.clear();
      p.blob = job.blob;  // ... then the blob, atomically
      std::string err;
      if (!resource::ChunkLedger::restore(p.blob, p.durable, err)) {
        violations_.push_back("resd persisted a ledger blob that does not restore: " + err);
      }
      r.ok = true;
      break;
    }
    case JobKind::Bind:  // the meta, rewritten tmp+fsync+rename with the bound hash
      if (it == partials_.end()) {
        r.ok = false;
        r.message = "no partial upload";
        break;
      }
      it->second.meta.file_hash = job.meta.file_hash;
      r.ok = true;
      break;
    case JobKind::Verify:
      if (it != partials_.end()) {
        // Equal bytes have equal hashes; only a file that differs from its source is hashed.
        const std::string* src = sources_.find(hex_of(it->second.meta.file_hash));
        r.ok = (src && *src == it->second.data) ||
               sha256_of(it->second.data) == it->second.meta.file_hash;
      }
      if (!r.ok) r.message = "whole-file hash differs";
      break;
    case JobKind::Finalize: {
      if (it == partials_.end()) {
        r.ok = false;
        r.message = "no partial upload";
        break;
      }
      const resource::UploadMeta& m = it->second.meta;
      // Content stored already: the real store keeps that copy and leaves the data file for a
      // Discard; a data file without meta is debris at start-up, so the sim drops it here.
      r.duplicate = files_.count(hex_of(m.file_hash)) != 0;
      files_[hex_of(m.file_hash)] = it->second.data;
      done_[m.message_id] = resource::DoneRecord{m.user_id, m.file_size, m.chunk_size, m.file_hash};
      notify_[m.message_id] = {m.file_size, m.file_hash};
      partials_.erase(it);
      r.ok = true;
      break;
    }
    case JobKind::Delete:
      if (it != partials_.end()) partials_.erase(it);
      r.ok = true;
      break;
    case JobKind::Unnotify:
      notify_.erase(job.message_id);
      r.ok = true;
      break;
    case JobKind::Discard:
      r.ok = true;
      break;
    case JobKind::Flush:  // a head start only: durability comes from Finalize's own sync
      r.ok = true;
      break;
  }
  return r;
}

}  // namespace ferry::sim
