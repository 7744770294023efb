// ferry upload frames (types 0x10-0x14): binary bodies for the client <-> resource server
// data connection. Sans-I/O: structs in, bytes out, and back. See docs/protocol-upload.md for
// the byte layout of every body and the meaning of every status and NACK code.
//
// Why binary: chunks are bulk data, and base64-in-JSON cost the seed ~35% of every chunk.
// All integers are big-endian; chunk indices, sizes and offsets are 64-bit so files larger
// than 4 GiB work. Every decoder checks every length against the body before reading, rejects
// trailing bytes, and on failure returns false with a sentence in `error` naming the frame,
// the field and the offset, so the server can put it into an ERROR frame as is.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proto/frame.h"

namespace ferry::proto {

using Sha256 = std::array<uint8_t, 32>;
// A chunk's checksum on the wire: XXH3-128, big-endian canonical form (proto/chunk_sum.h).
using ChunkSum = std::array<uint8_t, 16>;

// Limits a decoder enforces (a peer cannot make us allocate beyond them).
inline constexpr size_t kMaxTicketBytes = 4096;
inline constexpr size_t kMaxUploadMessageBytes = 1024;  // error messages in STATE/DONE
inline constexpr size_t kMaxStateRanges = 1u << 20;  // held ranges in one UPLOAD_STATE
inline constexpr size_t kMaxAckRanges = 256;  // selective ranges in one CHUNK_ACK
inline constexpr size_t kMaxAckNacks = 256;  // NACKed indices in one CHUNK_ACK
inline constexpr uint32_t kMaxChunkBytes = 64u << 20;  // largest chunk size a server may pick
// CHUNK body before the payload: slot u32 | index u64 | xxh128[16].
inline constexpr size_t kChunkPrefixBytes = 4 + 8 + 16;

// Half-open range of chunk indices [start, end). Lists of ranges on the wire are sorted,
// non-empty and non-overlapping; decoders refuse anything else.
struct ChunkRange {
  uint64_t start = 0;
  uint64_t end = 0;
  bool operator==(const ChunkRange&) const = default;
};

// Outcome of an upload (UPLOAD_STATE, UPLOAD_DONE). Never renumbered; see the doc table.
enum class UploadStatus : uint16_t {
  Ok = 0,
  BadTicket = 1,  // forged, malformed or for another user: do not retry with this ticket
  TicketExpired = 2,  // ask the chat server for a fresh ticket, then OPEN again
  SlotInUse = 3,  // OPEN named a slot already open on this connection
  UnknownSlot = 4,  // a frame named a slot that is not open
  DiskFull = 5,  // server out of space; OPEN again later, the upload resumes
  Corrupt = 6,  // whole-file SHA-256 differs from the ticket's; upload discarded
  Cancelled = 7,  // the upload was cancelled (by the sender); its space is freed
  Expired = 8,  // an incomplete upload passed its lifetime and was deleted
  TooLarge = 9,  // the file is larger than the server accepts
  Internal = 10,  // the server failed; retry later
};
inline constexpr uint16_t kUploadStatusMax = 10;
const char* upload_status_name(UploadStatus status);  // "ok", "bad_ticket", ...

// Why one chunk was refused (CHUNK_ACK). Never renumbered; see the doc table.
enum class NackReason : uint8_t {
  BadHash = 1,  // payload does not match its SHA-256: re-send it (loss signal)
  OutOfRange = 2,  // index >= total chunks: a sender bug, fail the upload
  TooLarge = 3,  // payload longer than this chunk's size: a sender bug, fail the upload
  BadSize = 4,  // payload shorter than this chunk's size: a sender bug, fail the upload
  UnknownSlot = 5,  // no upload open under this slot: OPEN again
  WriteFailed = 6,  // the server could not write it (disk): re-send later (loss signal)
};
inline constexpr uint8_t kNackReasonMax = 6;
const char* nack_reason_name(NackReason reason);  // "bad_hash", "out_of_range", ...

// 0x10 client -> server: open (or resume) the upload the ticket names, under `slot`.
struct UploadOpen {
  uint32_t slot = 0;  // chosen by the client, unique among its open uploads on the connection
  std::string ticket;  // opaque signed bytes from the chat server, 1..kMaxTicketBytes
};

// 0x11 server -> client: the upload's geometry and exactly which chunks are durable.
struct UploadState {
  uint32_t slot = 0;
  UploadStatus status = UploadStatus::Ok;
  // Only when status == Ok:
  uint32_t chunk_size = 0;  // 1..kMaxChunkBytes; every chunk but the last has this size
  uint64_t total_chunks = 0;  // == ceil(file_size / chunk_size)
  uint64_t file_size = 0;
  std::vector<ChunkRange> held;  // durable chunks; ranges within [0, total_chunks)
  // Only when status != Ok:
  std::string message;  // human-readable detail, at most kMaxUploadMessageBytes
};

// 0x12 client -> server: one chunk. `payload` borrows from the decoded body (no copy).
struct Chunk {
  uint32_t slot = 0;
  uint64_t index = 0;
  ChunkSum hash{};  // XXH3-128 of the payload as the sender read it
  std::string_view payload;
};

struct ChunkNack {
  uint64_t index = 0;
  NackReason reason = NackReason::BadHash;
  bool operator==(const ChunkNack&) const = default;
};

// 0x13 server -> client: durability acknowledgements and refusals.
struct ChunkAck {
  uint32_t slot = 0;
  uint64_t cumulative = 0;  // every chunk with index < cumulative is durable
  std::vector<ChunkRange> selective;  // more durable chunks, all with start > cumulative
  std::vector<ChunkNack> nacks;  // refused chunks (any order, at most kMaxAckNacks)
};

// 0x14 server -> client: the upload ended.
struct UploadDone {
  uint32_t slot = 0;
  UploadStatus status = UploadStatus::Ok;
  // Only when status == Ok: the verified whole file.
  uint64_t file_size = 0;
  Sha256 file_hash{};
  // Only when status != Ok:
  std::string message;
};

// ferry-resd's chunk size for a file: 1 MiB keeps a resume's re-send (about one window) small
// and lets small files spread over many chunks in flight; from 1 GiB on, 4 MiB chunks quarter
// the per-chunk costs (frames, acks, ledger entries: a 64 GiB file has 16384 chunks, not
// 65536). UPLOAD_STATE is what counts; a sender may only assume this before it arrives.
inline constexpr uint32_t kSmallChunkBytes = 1u << 20;
inline constexpr uint32_t kLargeChunkBytes = 4u << 20;
inline constexpr uint64_t kLargeFileBytes = 1ull << 30;
inline constexpr uint32_t resd_chunk_size(uint64_t file_size) {
  return file_size >= kLargeFileBytes ? kLargeChunkBytes : kSmallChunkBytes;
}

// ceil(file_size / chunk_size) without overflow; chunk_size must be > 0.
uint64_t chunk_count(uint64_t file_size, uint32_t chunk_size);
// Bytes of chunk `index` (the tail may be shorter); index must be < chunk_count().
uint64_t chunk_length(uint64_t file_size, uint32_t chunk_size, uint64_t index);

// Encoders append one whole frame (5-byte header + body) to `out`. Values outside the
// documented limits are programmer errors and abort.
void encode_upload_open(std::string& out, const UploadOpen& open);
void encode_upload_state(std::string& out, const UploadState& state);
void encode_chunk(std::string& out, uint32_t slot, uint64_t index, const ChunkSum& hash,
                  std::string_view payload);
void encode_chunk_ack(std::string& out, const ChunkAck& ack);
void encode_upload_done(std::string& out, const UploadDone& done);

// Zero-copy CHUNK: writes the frame header and the chunk prefix; the caller sends
// `payload_len` payload bytes straight after them from its own buffer.
inline constexpr size_t kChunkFramePrefixBytes = kFrameHeaderBytes + kChunkPrefixBytes;
void encode_chunk_prefix(uint8_t out[kChunkFramePrefixBytes], uint32_t slot, uint64_t index,
                         const ChunkSum& hash, uint32_t payload_len);

// Decoders take a frame body (Frame::body). On failure they return false, set `error`, and
// leave `out` unspecified. A failure means the peer broke the protocol: send ERROR and close.
[[nodiscard]] bool decode_upload_open(std::string_view body, UploadOpen& out, std::string& error);
[[nodiscard]] bool decode_upload_state(std::string_view body, UploadState& out,
                                       std::string& error);
[[nodiscard]] bool decode_chunk(std::string_view body, Chunk& out, std::string& error);
[[nodiscard]] bool decode_chunk_ack(std::string_view body, ChunkAck& out, std::string& error);
[[nodiscard]] bool decode_upload_done(std::string_view body, UploadDone& out, std::string& error);

}  // namespace ferry::proto
