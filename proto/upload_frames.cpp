// Encoding and bounds-checked decoding of the upload frames (layouts in upload_frames.h and
// docs/protocol-upload.md).
#include "proto/upload_frames.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ferry::proto {

namespace {

// Encoder misuse is a programmer error; STYLE keeps such checks on in release builds.
void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "ferry upload_frames: %s\n", what);
  std::abort();
}

class Writer {
 public:
  void u8(uint8_t v) { buf_.push_back(static_cast<char>(v)); }
  void u16(uint16_t v) { be(v, 2); }
  void u32(uint32_t v) { be(v, 4); }
  void u64(uint64_t v) { be(v, 8); }
  void bytes(const void* p, size_t n) { buf_.append(static_cast<const char*>(p), n); }
  void str16(std::string_view s) {
    u16(static_cast<uint16_t>(s.size()));
    bytes(s.data(), s.size());
  }
  void ranges(const std::vector<ChunkRange>& rs) {
    for (const ChunkRange& r : rs) {
      u64(r.start);
      u64(r.end);
    }
  }
  // Appends header + body to `out`.
  void finish(std::string& out, FrameType type) const { encode_frame(out, type, buf_); }

 private:
  void be(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; i--) buf_.push_back(static_cast<char>(v >> (8 * i)));
  }
  std::string buf_;
};

class Reader {
 public:
  Reader(std::string_view body, const char* frame, std::string& error)
      : body_(body), frame_(frame), error_(error) {}

  bool u8(uint8_t& v, const char* field) {
    std::string_view b;
    if (!take(1, field, b)) return false;
    v = static_cast<uint8_t>(b[0]);
    return true;
  }
  bool u16(uint16_t& v, const char* field) { return be(v, 2, field); }
  bool u32(uint32_t& v, const char* field) { return be(v, 4, field); }
  bool u64(uint64_t& v, const char* field) { return be(v, 8, field); }
  template <size_t N>
  bool bytes(std::array<uint8_t, N>& v, const char* field) {
    std::string_view b;
    if (!take(N, field, b)) return false;
    std::memcpy(v.data(), b.data(), N);
    return true;
  }
  bool sha(Sha256& v, const char* field) { return bytes(v, field); }
  bool sum(ChunkSum& v, const char* field) { return bytes(v, field); }
  bool take(size_t n, const char* field, std::string_view& out) {
    if (body_.size() - pos_ < n) {
      return fail("truncated at byte " + std::to_string(pos_) + ": " + field + " needs " +
                  std::to_string(n) + " bytes, " + std::to_string(body_.size() - pos_) +
                  " left");
    }
    out = body_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  // A u16-length-prefixed string of at most `max` bytes.
  bool str16(std::string& out, size_t max, const char* field) {
    uint16_t len;
    if (!u16(len, field)) return false;
    if (len > max) {
      return fail(std::string(field) + " is " + std::to_string(len) + " bytes, limit " +
                  std::to_string(max));
    }
    std::string_view b;
    if (!take(len, field, b)) return false;
    out.assign(b);
    return true;
  }
  // `count` ranges, sorted, non-empty, separated by gaps, each start >= lower and
  // end <= upper. Checks the byte count first so a huge count cannot make us allocate.
  bool ranges(uint64_t count, uint64_t lower, uint64_t upper, std::vector<ChunkRange>& out) {
    if (count > remaining() / 16) {
      return fail("range count " + std::to_string(count) + " needs " +
                  std::to_string(count * 16) + " bytes, " + std::to_string(remaining()) +
                  " left");
    }
    out.clear();
    out.reserve(count);
    for (uint64_t i = 0; i < count; i++) {
      ChunkRange r;
      if (!u64(r.start, "range start") || !u64(r.end, "range end")) return false;
      std::string at = "range " + std::to_string(i) + " [" + std::to_string(r.start) + "," +
                       std::to_string(r.end) + ")";
      if (r.start >= r.end) return fail(at + " is empty or reversed");
      if (r.start < lower) return fail(at + " starts below " + std::to_string(lower));
      if (r.end > upper) return fail(at + " ends past " + std::to_string(upper));
      if (!out.empty() && r.start <= out.back().end) {
        return fail(at + " overlaps, touches or precedes the previous range");
      }
      out.push_back(r);
    }
    return true;
  }
  bool status(UploadStatus& out) {
    uint16_t v;
    if (!u16(v, "status")) return false;
    if (v > kUploadStatusMax) return fail("unknown status " + std::to_string(v));
    out = static_cast<UploadStatus>(v);
    return true;
  }
  // Call last: the body must be fully consumed.
  bool end() {
    if (pos_ != body_.size()) {
      return fail(std::to_string(body_.size() - pos_) + " trailing bytes after byte " +
                  std::to_string(pos_));
    }
    return true;
  }
  size_t remaining() const { return body_.size() - pos_; }
  std::string_view rest() {
    std::string_view r = body_.substr(pos_);
    pos_ = body_.size();
    return r;
  }
  bool fail(const std::string& what) {
    error_ = std::string(frame_) + ": " + what;
    return false;
  }

 private:
  template <typename T>
  bool be(T& v, size_t n, const char* field) {
    std::string_view b;
    if (!take(n, field, b)) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) x = (x << 8) | static_cast<uint8_t>(b[i]);
    v = static_cast<T>(x);
    return true;
  }
  std::string_view body_;
  size_t pos_ = 0;
  const char* frame_;
  std::string& error_;
};

void check_ranges_for_encode(const std::vector<ChunkRange>& rs, uint64_t lower, uint64_t upper) {
  for (size_t i = 0; i < rs.size(); i++) {
    require(rs[i].start < rs[i].end && rs[i].start >= lower && rs[i].end <= upper,
            "chunk range out of bounds or empty");
    require(i == 0 || rs[i].start > rs[i - 1].end, "chunk ranges not sorted and merged");
  }
}

}  // namespace

const char* upload_status_name(UploadStatus status) {
  switch (status) {
    case UploadStatus::Ok: return "ok";
    case UploadStatus::BadTicket: return "bad_ticket";
    case UploadStatus::TicketExpired: return "ticket_expired";
    case UploadStatus::SlotInUse: return "slot_in_use";
    case UploadStatus::UnknownSlot: return "unknown_slot";
    case UploadStatus::DiskFull: return "disk_full";
    case UploadStatus::Corrupt: return "corrupt";
    case UploadStatus::Cancelled: return "cancelled";
    case UploadStatus::Expired: return "expired";
    case UploadStatus::TooLarge: return "too_large";
    case UploadStatus::Internal: return "internal";
  }
  return "unknown";
}

const char* nack_reason_name(NackReason reason) {
  switch (reason) {
    case NackReason::BadHash: return "bad_hash";
    case NackReason::OutOfRange: return "out_of_range";
    case NackReason::TooLarge: return "too_large";
    case NackReason::BadSize: return "bad_size";
    case NackReason::UnknownSlot: return "unknown_slot";
    case NackReason::WriteFailed: return "write_failed";
  }
  return "unknown";
}

uint64_t chunk_count(uint64_t file_size, uint32_t chunk_size) {
  require(chunk_size > 0, "chunk_size is 0");
  return file_size / chunk_size + (file_size % chunk_size != 0 ? 1 : 0);
}

uint64_t chunk_length(uint64_t file_size, uint32_t chunk_size, uint64_t index) {
  require(index < chunk_count(file_size, chunk_size), "chunk index out of range");
  uint64_t offset = index * chunk_size;  // < file_size, so no overflow
  return file_size - offset < chunk_size ? file_size - offset : chunk_size;
}

void encode_upload_open(std::string& out, const UploadOpen& open) {
  require(!open.ticket.empty() && open.ticket.size() <= kMaxTicketBytes, "ticket size");
  Writer w;
  w.u32(open.slot);
  w.str16(open.ticket);
  w.finish(out, FrameType::UploadOpen);
}

bool decode_upload_open(std::string_view body, UploadOpen& out, std::string& error) {
  Reader r(body, "UPLOAD_OPEN", error);
  if (!r.u32(out.slot, "slot") || !r.str16(out.ticket, kMaxTicketBytes, "ticket")) return false;
  if (out.ticket.empty()) return r.fail("ticket is empty");
  return r.end();
}

void encode_upload_state(std::string& out, const UploadState& s) {
  Writer w;
  w.u32(s.slot);
  w.u16(static_cast<uint16_t>(s.status));
  if (s.status != UploadStatus::Ok) {
    require(s.message.size() <= kMaxUploadMessageBytes, "message too long");
    w.str16(s.message);
  } else {
    require(s.chunk_size > 0 && s.chunk_size <= kMaxChunkBytes, "chunk_size");
    require(s.total_chunks == chunk_count(s.file_size, s.chunk_size), "total_chunks");
    require(s.held.size() <= kMaxStateRanges, "too many held ranges");
    check_ranges_for_encode(s.held, 0, s.total_chunks);
    w.u32(s.chunk_size);
    w.u64(s.total_chunks);
    w.u64(s.file_size);
    w.u32(static_cast<uint32_t>(s.held.size()));
    w.ranges(s.held);
  }
  w.finish(out, FrameType::UploadState);
}

bool decode_upload_state(std::string_view body, UploadState& out, std::string& error) {
  Reader r(body, "UPLOAD_STATE", error);
  if (!r.u32(out.slot, "slot") || !r.status(out.status)) return false;
  out.held.clear();
  out.message.clear();
  if (out.status != UploadStatus::Ok) {
    if (!r.str16(out.message, kMaxUploadMessageBytes, "message")) return false;
    return r.end();
  }
  uint32_t count;
  if (!r.u32(out.chunk_size, "chunk_size") || !r.u64(out.total_chunks, "total_chunks") ||
      !r.u64(out.file_size, "file_size") || !r.u32(count, "range_count")) {
    return false;
  }
  if (out.chunk_size == 0 || out.chunk_size > kMaxChunkBytes) {
    return r.fail("chunk_size " + std::to_string(out.chunk_size) + " outside 1.." +
                  std::to_string(kMaxChunkBytes));
  }
  if (out.total_chunks != chunk_count(out.file_size, out.chunk_size)) {
    return r.fail("total_chunks " + std::to_string(out.total_chunks) + " does not match " +
                  "file_size " + std::to_string(out.file_size) + " / chunk_size " +
                  std::to_string(out.chunk_size));
  }
  if (count > kMaxStateRanges) return r.fail("range_count " + std::to_string(count) + " too big");
  if (!r.ranges(count, 0, out.total_chunks, out.held)) return false;
  return r.end();
}

void encode_chunk_prefix(uint8_t out[kChunkFramePrefixBytes], uint32_t slot, uint64_t index,
                         const ChunkSum& hash, uint32_t payload_len) {
  require(payload_len <= UINT32_MAX - kChunkPrefixBytes, "payload too large");
  encode_frame_header(out, FrameType::Chunk,
                      static_cast<uint32_t>(kChunkPrefixBytes + payload_len));
  uint8_t* p = out + kFrameHeaderBytes;
  for (int i = 0; i < 4; i++) *p++ = static_cast<uint8_t>(slot >> (24 - 8 * i));
  for (int i = 0; i < 8; i++) *p++ = static_cast<uint8_t>(index >> (56 - 8 * i));
  std::memcpy(p, hash.data(), hash.size());
}

void encode_chunk(std::string& out, uint32_t slot, uint64_t index, const ChunkSum& hash,
                  std::string_view payload) {
  require(payload.size() <= UINT32_MAX - kChunkPrefixBytes, "payload too large");
  uint8_t prefix[kChunkFramePrefixBytes];
  encode_chunk_prefix(prefix, slot, index, hash, static_cast<uint32_t>(payload.size()));
  out.append(reinterpret_cast<const char*>(prefix), sizeof prefix);
  out.append(payload.data(), payload.size());
}

bool decode_chunk(std::string_view body, Chunk& out, std::string& error) {
  Reader r(body, "CHUNK", error);
  if (!r.u32(out.slot, "slot") || !r.u64(out.index, "index") || !r.sum(out.hash, "xxh128")) {
    return false;
  }
  out.payload = r.rest();  // the view the caller asked for: no copy of the bulk bytes
  return true;
}

void encode_chunk_ack(std::string& out, const ChunkAck& ack) {
  require(ack.selective.size() <= kMaxAckRanges && ack.nacks.size() <= kMaxAckNacks,
          "too many ack entries");
  if (!ack.selective.empty()) {
    require(ack.cumulative < UINT64_MAX, "selective ranges above a maximal cumulative ack");
    check_ranges_for_encode(ack.selective, ack.cumulative + 1, UINT64_MAX);
  }
  Writer w;
  w.u32(ack.slot);
  w.u64(ack.cumulative);
  w.u16(static_cast<uint16_t>(ack.selective.size()));
  w.ranges(ack.selective);
  w.u16(static_cast<uint16_t>(ack.nacks.size()));
  for (const ChunkNack& n : ack.nacks) {
    w.u64(n.index);
    w.u8(static_cast<uint8_t>(n.reason));
  }
  w.finish(out, FrameType::ChunkAck);
}

bool decode_chunk_ack(std::string_view body, ChunkAck& out, std::string& error) {
  Reader r(body, "CHUNK_ACK", error);
  uint16_t n_sel, n_nack;
  if (!r.u32(out.slot, "slot") || !r.u64(out.cumulative, "cumulative") ||
      !r.u16(n_sel, "selective_count")) {
    return false;
  }
  if (n_sel > kMaxAckRanges) return r.fail("selective_count " + std::to_string(n_sel) + " too big");
  // Selective ranges lie strictly above the cumulative point (else it would cover them).
  uint64_t lower = out.cumulative == UINT64_MAX ? UINT64_MAX : out.cumulative + 1;
  if (!r.ranges(n_sel, lower, UINT64_MAX, out.selective)) return false;
  if (!r.u16(n_nack, "nack_count")) return false;
  if (n_nack > kMaxAckNacks) return r.fail("nack_count " + std::to_string(n_nack) + " too big");
  if (n_nack > r.remaining() / 9) {
    return r.fail("nack_count " + std::to_string(n_nack) + " needs " +
                  std::to_string(n_nack * 9) + " bytes, " + std::to_string(r.remaining()) +
                  " left");
  }
  out.nacks.clear();
  for (uint16_t i = 0; i < n_nack; i++) {
    ChunkNack n;
    uint8_t reason;
    if (!r.u64(n.index, "nack index") || !r.u8(reason, "nack reason")) return false;
    if (reason == 0 || reason > kNackReasonMax) {
      return r.fail("nack " + std::to_string(i) + " has unknown reason " + std::to_string(reason));
    }
    n.reason = static_cast<NackReason>(reason);
    out.nacks.push_back(n);
  }
  return r.end();
}

void encode_upload_done(std::string& out, const UploadDone& d) {
  Writer w;
  w.u32(d.slot);
  w.u16(static_cast<uint16_t>(d.status));
  if (d.status == UploadStatus::Ok) {
    w.u64(d.file_size);
    w.bytes(d.file_hash.data(), d.file_hash.size());
  } else {
    require(d.message.size() <= kMaxUploadMessageBytes, "message too long");
    w.str16(d.message);
  }
  w.finish(out, FrameType::UploadDone);
}

bool decode_upload_done(std::string_view body, UploadDone& out, std::string& error) {
  Reader r(body, "UPLOAD_DONE", error);
  if (!r.u32(out.slot, "slot") || !r.status(out.status)) return false;
  out.message.clear();
  if (out.status == UploadStatus::Ok) {
    if (!r.u64(out.file_size, "file_size") || !r.sha(out.file_hash, "file_sha256")) return false;
  } else if (!r.str16(out.message, kMaxUploadMessageBytes, "message")) {
    return false;
  }
  return r.end();
}

}  // namespace ferry::proto
