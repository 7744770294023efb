// The resource server's per-upload chunk ledger (see chunk_ledger.h).
//
// Blob layout (version 1), big-endian:
//   "FRYL" | u8 version=1 | u64 file_size | u32 chunk_size | u64 total_chunks
//   | u64 generation | sha256[32] file_hash | u8 encoding
//   | encoding 0 (ranges): u64 count, count x (u64 start, u64 end)   sorted, merged
//   | encoding 1 (bitmap): ceil(total/8) bytes, chunk i = bit (i%8) of byte i/8; spare bits 0
//   | sha256[32] over every byte before it
// The encoder picks whichever body is smaller: ranges for the usual mostly-contiguous state,
// the bitmap when out-of-order arrival has left many holes.
#include "servers/resource/core/chunk_ledger.h"

#include <cassert>
#include <cstring>

#include "proto/hex.h"

namespace ferry::resource {

namespace {

constexpr char kMagic[4] = {'F', 'R', 'Y', 'L'};
constexpr uint8_t kBlobVersion = 1;
constexpr size_t kBlobHeaderBytes = 4 + 1 + 8 + 4 + 8 + 8 + 32 + 1;
constexpr size_t kChecksumBytes = 32;

void put_be(std::string& out, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; i--) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t get_be(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

}  // namespace

ChunkLedger::ChunkLedger(uint64_t file_size, uint32_t chunk_size, const proto::Sha256& file_hash)
    : file_size_(file_size),
      chunk_size_(chunk_size),
      file_hash_(file_hash),
      state_(proto::chunk_count(file_size, chunk_size), State::Missing) {
  assert(chunk_size > 0 && chunk_size <= proto::kMaxChunkBytes);
  maybe_verify();  // an empty file is whole from the start
}

std::optional<proto::NackReason> ChunkLedger::check(uint64_t index, uint64_t length) const {
  if (index >= state_.size()) return proto::NackReason::OutOfRange;
  uint64_t want = proto::chunk_length(file_size_, chunk_size_, index);
  if (length > want) return proto::NackReason::TooLarge;
  if (length < want) return proto::NackReason::BadSize;
  return std::nullopt;
}

void ChunkLedger::on_chunk(uint64_t index, uint64_t length, const proto::ChunkSum& claimed,
                           const proto::ChunkSum& computed) {
  if (auto reason = check(index, length)) return nack(index, *reason);
  switch (state_[index]) {
    case State::Durable:
      ack_pending_ = true;  // a duplicate: our ack was lost or is late; say it again
      return;
    case State::Writing:
    case State::Written:
    case State::Persisting:
      return;  // a duplicate of a chunk on its way to durable; that ack is coming
    case State::Missing:
      break;
  }
  if (claimed != computed) return nack(index, proto::NackReason::BadHash);
  state_[index] = State::Writing;
  LedgerAction a;
  a.kind = LedgerAction::Kind::Write;
  a.index = index;
  a.offset = index * chunk_size_;
  a.length = length;
  actions_.push_back(std::move(a));
}

void ChunkLedger::on_write_done(uint64_t index, bool ok) {
  assert(index < state_.size() && state_[index] == State::Writing);
  if (index >= state_.size() || state_[index] != State::Writing) return;
  if (!ok) {
    state_[index] = State::Missing;
    return nack(index, proto::NackReason::WriteFailed);
  }
  state_[index] = State::Written;
  written_.push_back(index);
  maybe_persist();
}

void ChunkLedger::maybe_persist() {
  if (persist_in_flight_ || written_.empty()) return;
  for (uint64_t i : written_) state_[i] = State::Persisting;
  persisting_.swap(written_);
  written_.clear();
  persist_in_flight_ = true;
  LedgerAction a;
  a.kind = LedgerAction::Kind::Persist;
  a.generation = ++generation_;
  a.blob = encode_blob(true);
  actions_.push_back(std::move(a));
}

void ChunkLedger::on_persisted(uint64_t generation) {
  if (!persist_in_flight_ || generation != generation_) return;
  persist_in_flight_ = false;
  for (uint64_t i : persisting_) {
    state_[i] = State::Durable;
    durable_count_++;
  }
  persisting_.clear();
  while (durable_floor_ < state_.size() && state_[durable_floor_] == State::Durable) {
    durable_floor_++;
  }
  ack_pending_ = true;
  maybe_persist();
  maybe_verify();
}

void ChunkLedger::bind(const proto::Sha256& file_hash) {
  if (bound()) return;
  file_hash_ = file_hash;
  maybe_verify();
}

void ChunkLedger::maybe_verify() {
  if (phase_ != Phase::Receiving || !complete() || !bound()) return;
  phase_ = Phase::Verifying;
  LedgerAction a;
  a.kind = LedgerAction::Kind::Verify;
  actions_.push_back(std::move(a));
}

void ChunkLedger::on_verified(bool ok) {
  assert(phase_ == Phase::Verifying);
  if (phase_ != Phase::Verifying) return;
  phase_ = Phase::Done;
  LedgerAction a;
  a.kind = LedgerAction::Kind::Done;
  a.ok = ok;
  actions_.push_back(std::move(a));
}

void ChunkLedger::nack(uint64_t index, proto::NackReason reason) {
  // Keep the ack bounded; a sender that overflows it re-sends on RTO anyway.
  if (nacks_.size() < proto::kMaxAckNacks) nacks_.push_back({index, reason});
}

std::optional<LedgerAction> ChunkLedger::poll_action() {
  if (!actions_.empty()) {
    LedgerAction a = std::move(actions_.front());
    actions_.pop_front();
    return a;
  }
  // Acks and NACKs coalesce into one CHUNK_ACK per drain.
  if (!ack_pending_ && nacks_.empty()) return std::nullopt;
  LedgerAction a;
  a.kind = LedgerAction::Kind::Ack;
  a.ack = make_ack();
  a.ack.nacks.swap(nacks_);
  nacks_.clear();
  ack_pending_ = false;
  return a;
}

proto::ChunkAck ChunkLedger::make_ack() const {
  proto::ChunkAck ack;
  ack.cumulative = durable_floor_;
  uint64_t n = state_.size();
  for (uint64_t i = durable_floor_; i < n && ack.selective.size() < proto::kMaxAckRanges;) {
    if (state_[i] != State::Durable) {
      i++;
      continue;
    }
    uint64_t start = i;
    while (i < n && state_[i] == State::Durable) i++;
    ack.selective.push_back({start, i});
  }
  return ack;
}

proto::UploadState ChunkLedger::upload_state(uint32_t slot) const {
  proto::UploadState s;
  s.slot = slot;
  s.chunk_size = chunk_size_;
  s.total_chunks = state_.size();
  s.file_size = file_size_;
  // Claiming fewer chunks than held is safe (the client re-sends them); more never is.
  for (uint64_t i = 0; i < state_.size() && s.held.size() < proto::kMaxStateRanges;) {
    if (state_[i] != State::Durable) {
      i++;
      continue;
    }
    uint64_t start = i;
    while (i < state_.size() && state_[i] == State::Durable) i++;
    s.held.push_back({start, i});
  }
  return s;
}

std::string ChunkLedger::serialize() const { return encode_blob(false); }

std::string ChunkLedger::encode_blob(bool include_pending) const {
  auto held = [&](uint64_t i) {
    return state_[i] == State::Durable || (include_pending && state_[i] == State::Persisting);
  };
  std::vector<proto::ChunkRange> ranges;
  for (uint64_t i = 0; i < state_.size();) {
    if (!held(i)) {
      i++;
      continue;
    }
    uint64_t start = i;
    while (i < state_.size() && held(i)) i++;
    ranges.push_back({start, i});
  }
  uint64_t bitmap_bytes = (state_.size() + 7) / 8;
  bool use_bitmap = bitmap_bytes < 8 + 16 * ranges.size();

  std::string out(kMagic, sizeof kMagic);
  put_be(out, kBlobVersion, 1);
  put_be(out, file_size_, 8);
  put_be(out, chunk_size_, 4);
  put_be(out, state_.size(), 8);
  put_be(out, generation_, 8);
  out.append(reinterpret_cast<const char*>(file_hash_.data()), file_hash_.size());
  put_be(out, use_bitmap ? 1 : 0, 1);
  if (use_bitmap) {
    std::string bits(bitmap_bytes, '\0');
    for (uint64_t i = 0; i < state_.size(); i++) {
      if (held(i)) bits[i / 8] = static_cast<char>(bits[i / 8] | (1 << (i % 8)));
    }
    out += bits;
  } else {
    put_be(out, ranges.size(), 8);
    for (const proto::ChunkRange& r : ranges) {
      put_be(out, r.start, 8);
      put_be(out, r.end, 8);
    }
  }
  out += proto::sha256(out);
  return out;
}

bool ChunkLedger::restore(std::string_view blob, std::optional<ChunkLedger>& out,
                          std::string& error) {
  auto fail = [&](const std::string& why) {
    error = "ledger blob: " + why;
    return false;
  };
  if (blob.size() < kBlobHeaderBytes + kChecksumBytes) {
    return fail("truncated (" + std::to_string(blob.size()) + " bytes)");
  }
  // The checksum first: every later check then reads bytes we know we wrote.
  std::string_view body = blob.substr(0, blob.size() - kChecksumBytes);
  if (proto::sha256(body) != blob.substr(body.size())) return fail("checksum mismatch");
  const char* p = body.data();
  if (std::memcmp(p, kMagic, sizeof kMagic) != 0) return fail("bad magic");
  uint8_t version = static_cast<uint8_t>(p[4]);
  if (version != kBlobVersion) return fail("unknown version " + std::to_string(version));
  uint64_t file_size = get_be(p + 5, 8);
  uint64_t chunk_size = get_be(p + 13, 4);
  uint64_t total = get_be(p + 17, 8);
  uint64_t generation = get_be(p + 25, 8);
  proto::Sha256 hash;
  std::memcpy(hash.data(), p + 33, hash.size());
  uint8_t encoding = static_cast<uint8_t>(p[65]);
  if (chunk_size == 0 || chunk_size > proto::kMaxChunkBytes) return fail("bad chunk size");
  if (total != proto::chunk_count(file_size, static_cast<uint32_t>(chunk_size))) {
    return fail("chunk count does not match file size");
  }
  std::string_view rest = body.substr(kBlobHeaderBytes);
  std::vector<uint64_t> durable;
  if (encoding == 1) {
    if (rest.size() != (total + 7) / 8) return fail("bitmap length mismatch");
    for (uint64_t i = 0; i < rest.size() * 8; i++) {
      if (!(static_cast<uint8_t>(rest[i / 8]) >> (i % 8) & 1)) continue;
      if (i >= total) return fail("bitmap claims a chunk past the end");
      durable.push_back(i);
    }
  } else if (encoding == 0) {
    if (rest.size() < 8) return fail("truncated range count");
    uint64_t count = get_be(rest.data(), 8);
    if (count > (rest.size() - 8) / 16 || rest.size() != 8 + 16 * count) {
      return fail("range count does not match length");
    }
    uint64_t prev_end = 0;
    for (uint64_t k = 0; k < count; k++) {
      uint64_t s = get_be(rest.data() + 8 + 16 * k, 8);
      uint64_t e = get_be(rest.data() + 16 + 16 * k, 8);
      if (s >= e || e > total || (k > 0 && s <= prev_end)) return fail("bad range");
      for (uint64_t i = s; i < e; i++) durable.push_back(i);
      prev_end = e;
    }
  } else {
    return fail("unknown encoding " + std::to_string(encoding));
  }
  out.emplace(file_size, static_cast<uint32_t>(chunk_size), hash);
  ChunkLedger& l = *out;
  l.actions_.clear();  // the constructor may have queued Verify for an empty file
  l.phase_ = Phase::Receiving;
  l.generation_ = generation;
  for (uint64_t i : durable) l.state_[i] = State::Durable;
  l.durable_count_ = durable.size();
  while (l.durable_floor_ < total && l.state_[l.durable_floor_] == State::Durable) {
    l.durable_floor_++;
  }
  l.maybe_verify();
  return true;
}

}  // namespace ferry::resource
