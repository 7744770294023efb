// The resource server's books for one upload: which chunks are durably written, which are
// being written, and when the file is whole. Sans-I/O: the adapter feeds decoded CHUNKs
// (with the SHA-256 its file worker computed over the payload), write and persist
// completions, and takes actions out.
//
// Durability rule ("nothing acknowledged is ever lost"): a chunk is acked only after a
// ledger blob that lists it has been persisted. The chain is
//   CHUNK ok -> Write(index, offset, len) -> on_write_done -> Persist(generation, blob)
//   -> adapter fdatasyncs the data file, then writes + fsyncs the blob -> on_persisted(gen)
//   -> Ack.
// One Persist is outstanding at a time; chunks finishing meanwhile ride on the next one, so
// a fast stream of chunks costs one fsync pair per batch, not per chunk. A crash anywhere in
// the chain loses only unacked chunks: restore() from the last blob claims exactly what that
// blob lists, and every listed chunk's data was synced before the blob was.
//
// Owner: the resource server's upload registry, one ledger per upload (not per connection;
// a slot is the connection's name for it, so acks carry slot 0 and the adapter fills it in).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/upload_frames.h"

namespace ferry::resource {

struct LedgerAction {
  enum class Kind {
    Write,  // write the chunk's payload at [offset, offset+length), then on_write_done
    Persist,  // sync the data file, store `blob` durably, then on_persisted(generation)
    Ack,  // send `ack` (slot to be filled in by the adapter) on the upload's connection
    Verify,  // hash the whole file, compare with file_hash(), then on_verified
    Done,  // finished: `ok` true = verified and complete, false = corrupt (discard it)
  };
  Kind kind = Kind::Ack;
  uint64_t index = 0;  // Write
  uint64_t offset = 0;  // Write
  uint64_t length = 0;  // Write
  uint64_t generation = 0;  // Persist
  std::string blob;  // Persist
  proto::ChunkAck ack;  // Ack
  bool ok = false;  // Done
};

class ChunkLedger {
 public:
  // A fresh upload. chunk_size must be 1..kMaxChunkBytes (the server's choice, not the
  // client's); file_hash is the whole-file SHA-256 from the ticket, or all zeros when the
  // ticket is unbound (the client sends before it knows the hash): then the ledger takes and
  // acks chunks as usual but never asks for Verify until bind() gives it the hash.
  ChunkLedger(uint64_t file_size, uint32_t chunk_size, const proto::Sha256& file_hash);

  // Rebuilds a ledger from a blob a Persist action produced. Returns false with a reason if
  // the blob is truncated, of an unknown version, inconsistent, or fails its checksum.
  [[nodiscard]] static bool restore(std::string_view blob, std::optional<ChunkLedger>& out,
                                    std::string& error);

  // Refusal reason for a chunk of `length` bytes at `index`, checked before hashing so the
  // worker does not hash junk. on_chunk() runs the same check.
  std::optional<proto::NackReason> check(uint64_t index, uint64_t length) const;
  // A CHUNK arrived. `computed` is the checksum (proto/chunk_sum.h) the adapter's worker
  // took over the payload.
  void on_chunk(uint64_t index, uint64_t length, const proto::ChunkSum& claimed,
                const proto::ChunkSum& computed);
  // The Write for `index` finished; ok=false (disk error) NACKs it with write_failed.
  void on_write_done(uint64_t index, bool ok);
  // The Persist with this generation is durable. Stale generations are ignored.
  void on_persisted(uint64_t generation);
  // Result of the Verify action.
  void on_verified(bool ok);
  // The hash of an unbound upload became known (a bound ticket was presented): a complete
  // ledger now asks for Verify. No-op when already bound.
  void bind(const proto::Sha256& file_hash);
  // Drain after every call above, until empty.
  std::optional<LedgerAction> poll_action();

  // UPLOAD_STATE for an OPEN (durable chunks only) and the current ack.
  proto::UploadState upload_state(uint32_t slot) const;
  proto::ChunkAck make_ack() const;
  // Blob of the durable chunks only (for the upload registry's own snapshots).
  std::string serialize() const;

  uint64_t file_size() const { return file_size_; }
  uint32_t chunk_size() const { return chunk_size_; }
  uint64_t total_chunks() const { return state_.size(); }
  uint64_t durable_chunks() const { return durable_count_; }
  bool is_durable(uint64_t index) const { return state_.at(index) == State::Durable; }
  bool complete() const { return durable_count_ == state_.size(); }
  uint64_t generation() const { return generation_; }
  const proto::Sha256& file_hash() const { return file_hash_; }
  bool bound() const { return file_hash_ != proto::Sha256{}; }

 private:
  enum class State : uint8_t { Missing, Writing, Written, Persisting, Durable };
  enum class Phase : uint8_t { Receiving, Verifying, Done };

  std::string encode_blob(bool include_pending) const;
  void maybe_persist();
  void nack(uint64_t index, proto::NackReason reason);
  void maybe_verify();

  uint64_t file_size_;
  uint32_t chunk_size_;
  proto::Sha256 file_hash_;
  std::vector<State> state_;  // one byte per chunk
  uint64_t durable_count_ = 0;
  uint64_t durable_floor_ = 0;  // every chunk below is durable (the cumulative ack)
  std::vector<uint64_t> written_;  // written, waiting for the next Persist
  std::vector<uint64_t> persisting_;  // in the outstanding Persist
  bool persist_in_flight_ = false;
  uint64_t generation_ = 0;  // of the latest Persist emitted (or restored)
  Phase phase_ = Phase::Receiving;
  std::deque<LedgerAction> actions_;
  bool ack_pending_ = false;
  std::vector<proto::ChunkNack> nacks_;
};

}  // namespace ferry::resource
