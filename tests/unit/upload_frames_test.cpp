// Proves the upload frame codec: every frame round-trips (including 64-bit sizes past 4 GiB
// and the error variants), CHUNK payloads are views into the body, and every truncation,
// trailing byte and out-of-range field is refused with an error that names the problem; the
// chunk checksum is canonical XXH3-128 and catches damage.
// How: encode with the real encoders, decode the body, and mutate bytes in place for the
// malformed cases.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "proto/chunk_sum.h"
#include "proto/upload_frames.h"

using namespace ferry::proto;

namespace {

template <class Digest = Sha256>
Digest hash_of(uint8_t seed) {
  Digest h;
  for (size_t i = 0; i < h.size(); i++) h[i] = static_cast<uint8_t>(seed + i);
  return h;
}
ChunkSum sum_of(uint8_t seed) { return hash_of<ChunkSum>(seed); }

// Splits an encoded frame, checking the header's length and type on the way.
std::string body_of(const std::string& frame, FrameType type) {
  FrameDecoder dec(64u << 20);
  dec.feed(frame.data(), frame.size());
  Frame f;
  EXPECT_EQ(dec.next(f), DecodeStatus::Ready);
  EXPECT_EQ(f.type, type);
  EXPECT_EQ(dec.buffered(), 0u);
  return std::string(f.body);
}

void put_u64(std::string& s, size_t at, uint64_t v) {
  for (int i = 0; i < 8; i++) s[at + i] = static_cast<char>(v >> (56 - 8 * i));
}
void put_u32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; i++) s[at + i] = static_cast<char>(v >> (24 - 8 * i));
}
void put_u16(std::string& s, size_t at, uint16_t v) {
  s[at] = static_cast<char>(v >> 8);
  s[at + 1] = static_cast<char>(v);
}

using Decode = std::function<bool(std::string_view, std::string&)>;

// Every proper prefix of a valid body must fail with an error; one extra byte must fail too.
void expect_truncations_refused(const std::string& body, const Decode& decode) {
  for (size_t n = 0; n < body.size(); n++) {
    std::string err;
    EXPECT_FALSE(decode(std::string_view(body).substr(0, n), err)) << "prefix " << n;
    EXPECT_FALSE(err.empty()) << "prefix " << n;
  }
  std::string err;
  EXPECT_TRUE(decode(body, err)) << err;
}

void expect_refused(const std::string& body, const Decode& decode, const std::string& words) {
  std::string err;
  EXPECT_FALSE(decode(body, err));
  EXPECT_NE(err.find(words), std::string::npos) << "error was: " << err;
}

UploadState sample_state() {
  UploadState s;
  s.slot = 0xdeadbeef;
  s.chunk_size = 1u << 20;
  s.file_size = (5ull << 30) + 123;  // 5 GiB + 123: past every 32-bit limit
  s.total_chunks = chunk_count(s.file_size, s.chunk_size);
  s.held = {{0, 10}, {12, 13}, {5000, s.total_chunks}};
  return s;
}

Decode state_decoder() {
  return [](std::string_view b, std::string& e) {
    UploadState s;
    return decode_upload_state(b, s, e);
  };
}

Decode ack_decoder() {
  return [](std::string_view b, std::string& e) {
    ChunkAck a;
    return decode_chunk_ack(b, a, e);
  };
}

}  // namespace

TEST(upload_frames, chunk_geometry) {
  EXPECT_EQ(chunk_count(0, 4), 0u);
  EXPECT_EQ(chunk_count(4, 4), 1u);
  EXPECT_EQ(chunk_count(5, 4), 2u);
  EXPECT_EQ(chunk_count(UINT64_MAX, 1u << 20), (UINT64_MAX >> 20) + 1);
  EXPECT_EQ(chunk_length(5, 4, 0), 4u);
  EXPECT_EQ(chunk_length(5, 4, 1), 1u);
  EXPECT_EQ(chunk_length(8, 4, 1), 4u);
}

TEST(upload_frames, open_roundtrip_and_limits) {
  std::string wire;
  encode_upload_open(wire, {7, std::string("tick\0et", 7)});
  std::string body = body_of(wire, FrameType::UploadOpen);
  UploadOpen o;
  std::string err;
  ASSERT_TRUE(decode_upload_open(body, o, err)) << err;
  EXPECT_EQ(o.slot, 7u);
  EXPECT_EQ(o.ticket, std::string("tick\0et", 7));
  Decode dec = [](std::string_view b, std::string& e) {
    UploadOpen x;
    return decode_upload_open(b, x, e);
  };
  expect_truncations_refused(body, dec);
  std::string empty = body.substr(0, 4) + std::string(2, '\0');
  expect_refused(empty, dec, "ticket is empty");
  std::string huge = body.substr(0, 4) + "\x10\x01" + std::string(4097, 'x');
  expect_refused(huge, dec, "limit 4096");
}

TEST(upload_frames, state_roundtrip_64bit) {
  std::string wire;
  UploadState s = sample_state();
  encode_upload_state(wire, s);
  std::string body = body_of(wire, FrameType::UploadState);
  UploadState d;
  std::string err;
  ASSERT_TRUE(decode_upload_state(body, d, err)) << err;
  EXPECT_EQ(d.slot, s.slot);
  EXPECT_EQ(d.status, UploadStatus::Ok);
  EXPECT_EQ(d.chunk_size, s.chunk_size);
  EXPECT_EQ(d.file_size, s.file_size);
  EXPECT_EQ(d.total_chunks, 5121u);
  EXPECT_EQ(d.held, s.held);
  expect_truncations_refused(body, state_decoder());
}

TEST(upload_frames, state_error_roundtrip) {
  std::string wire;
  UploadState s;
  s.slot = 3;
  s.status = UploadStatus::TicketExpired;
  s.message = "ticket expired 5 s ago";
  encode_upload_state(wire, s);
  std::string body = body_of(wire, FrameType::UploadState);
  UploadState d;
  std::string err;
  ASSERT_TRUE(decode_upload_state(body, d, err)) << err;
  EXPECT_EQ(d.status, UploadStatus::TicketExpired);
  EXPECT_EQ(d.message, s.message);
  EXPECT_STREQ(upload_status_name(d.status), "ticket_expired");
  expect_truncations_refused(body, state_decoder());
}

TEST(upload_frames, state_malformed) {
  std::string wire;
  encode_upload_state(wire, sample_state());
  const std::string good = body_of(wire, FrameType::UploadState);
  // Offsets: slot 0, status 4, chunk_size 6, total 10, file_size 18, count 26, ranges 30.
  std::string b = good;
  put_u16(b, 4, 99);
  expect_refused(b, state_decoder(), "unknown status 99");
  b = good;
  put_u32(b, 6, 0);
  expect_refused(b, state_decoder(), "chunk_size 0");
  b = good;
  put_u32(b, 6, kMaxChunkBytes + 1);
  expect_refused(b, state_decoder(), "chunk_size");
  b = good;
  put_u64(b, 10, 5122);
  expect_refused(b, state_decoder(), "does not match");
  b = good;
  put_u32(b, 26, 0xffffffff);  // a count no body could hold must not allocate
  expect_refused(b, state_decoder(), "range_count");
  b = good;
  put_u32(b, 26, 4);
  expect_refused(b, state_decoder(), "range count 4 needs 64 bytes");
  b = good;
  put_u64(b, 30, 10);  // [10,10): empty
  expect_refused(b, state_decoder(), "empty or reversed");
  b = good;
  put_u64(b, 46, 10);  // second range starts where the first ends: not merged
  expect_refused(b, state_decoder(), "overlaps");
  b = good;
  put_u64(b, 46, 3);  // overlaps the first
  expect_refused(b, state_decoder(), "overlaps");
  b = good;
  put_u64(b, 70, 5122);  // past total_chunks
  expect_refused(b, state_decoder(), "ends past 5121");
  b = good + "x";
  expect_refused(b, state_decoder(), "1 trailing bytes");
}

TEST(upload_frames, chunk_roundtrip_is_a_view) {
  std::string payload(100000, 'p');
  payload[0] = 'a';
  payload.back() = 'z';
  std::string wire;
  encode_chunk(wire, 9, (6ull << 30) / 4096, sum_of(1), payload);
  std::string body = body_of(wire, FrameType::Chunk);
  Chunk c;
  std::string err;
  ASSERT_TRUE(decode_chunk(body, c, err)) << err;
  EXPECT_EQ(c.slot, 9u);
  EXPECT_EQ(c.index, (6ull << 30) / 4096);
  EXPECT_EQ(c.hash, sum_of(1));
  EXPECT_EQ(c.payload, payload);
  // No copy: the payload lies inside the body we passed in.
  EXPECT_EQ(c.payload.data(), body.data() + kChunkPrefixBytes);
  // The zero-copy prefix plus the payload is the same frame.
  uint8_t prefix[kChunkFramePrefixBytes];
  encode_chunk_prefix(prefix, 9, (6ull << 30) / 4096, sum_of(1), 100000);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(prefix), sizeof prefix) + payload, wire);
}

TEST(upload_frames, chunk_truncated) {
  std::string wire;
  encode_chunk(wire, 1, 2, sum_of(3), "");
  std::string body = body_of(wire, FrameType::Chunk);
  ASSERT_EQ(body.size(), kChunkPrefixBytes);
  Decode dec = [](std::string_view b, std::string& e) {
    Chunk c;
    return decode_chunk(b, c, e);
  };
  expect_truncations_refused(body, dec);
  expect_refused(body.substr(0, 20), dec, "xxh128 needs 16 bytes, 8 left");
}

// chunk_sum is XXH3-128 in canonical (big-endian) byte order, as docs/protocol-upload.md says,
// whichever code path libxxhash's x86 dispatch picks: equal to the library's portable
// XXH3_128bits (this file does not include the dispatch header) at every length class of
// XXH3 (0, 1-3, 4-8, 9-16, 17-128, 129-240, long inputs with and without a partial stripe).
TEST(upload_frames, chunk_sum_is_canonical_xxh3_128) {
  std::string data((1 << 20) + 13, '\0');
  for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<char>(i * 167 + (i >> 11));
  for (size_t len : {size_t(0), size_t(1), size_t(3), size_t(4), size_t(8), size_t(9),
                     size_t(16), size_t(17), size_t(128), size_t(129), size_t(240), size_t(241),
                     size_t(1024), size_t(4096) + 7, size_t(1) << 20, data.size()}) {
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits(data.data(), len));
    ChunkSum want;
    std::memcpy(want.data(), canon.digest, want.size());
    EXPECT_EQ(chunk_sum(data.data(), len), want) << "length " << len;
  }
  // A known answer (XXH3-128 of the empty input, from the xxHash reference): 99aa06d3014798d8
  // 6001c324468d497f.
  ChunkSum empty = chunk_sum("", 0);
  EXPECT_EQ(empty[0], 0x99);
  EXPECT_EQ(empty[15], 0x7f);
  EXPECT_EQ(ChunkSummer().digest(), empty);
  // Fed in pieces (as the SDK reads a chunk slice by slice), the sum is the same.
  for (size_t piece : {size_t(1), size_t(7), size_t(64), size_t(240), size_t(256) << 10}) {
    ChunkSummer sum;
    for (size_t at = 0; at < data.size(); at += piece) {
      sum.update(data.data() + at, std::min(piece, data.size() - at));
      if (at == 0) sum.update(data.data(), 0);  // an empty piece changes nothing
    }
    EXPECT_EQ(sum.digest(), chunk_sum(data.data(), data.size())) << "pieces of " << piece;
  }
}

// The chunk checksum must catch the damage the wire can do: any single flipped bit, a
// truncation, and bytes moved around; and it is a pure function of the bytes.
TEST(upload_frames, chunk_sum_detects_damage) {
  std::string data(1 << 20, '\0');
  for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<char>(i * 131 + (i >> 9));
  ChunkSum good = chunk_sum(data.data(), data.size());
  EXPECT_EQ(good, chunk_sum(data.data(), data.size()));
  for (size_t at : {size_t(0), size_t(1), data.size() / 2, data.size() - 1}) {
    for (int bit = 0; bit < 8; bit++) {
      std::string bad = data;
      bad[at] = static_cast<char>(bad[at] ^ (1 << bit));
      EXPECT_NE(chunk_sum(bad.data(), bad.size()), good) << "byte " << at << " bit " << bit;
    }
  }
  EXPECT_NE(chunk_sum(data.data(), data.size() - 1), good);
  std::string swapped = data;
  std::swap(swapped[10], swapped[20]);
  EXPECT_NE(chunk_sum(swapped.data(), swapped.size()), good);
  // Known answer: XXH3-128 of the empty input, canonical (big-endian) form.
  ChunkSum empty = chunk_sum("", 0);
  ChunkSum want = {0x99, 0xaa, 0x06, 0xd3, 0x01, 0x47, 0x98, 0xd8,
                   0x60, 0x01, 0xc3, 0x24, 0x46, 0x8d, 0x49, 0x7f};
  EXPECT_EQ(empty, want);
}

TEST(upload_frames, ack_roundtrip) {
  ChunkAck a;
  a.slot = 4;
  a.cumulative = 5ull << 32;
  a.selective = {{(5ull << 32) + 2, (5ull << 32) + 9}, {(5ull << 32) + 20, (5ull << 32) + 21}};
  a.nacks = {{17, NackReason::BadHash}, {1ull << 40, NackReason::OutOfRange},
             {3, NackReason::WriteFailed}};
  std::string wire;
  encode_chunk_ack(wire, a);
  std::string body = body_of(wire, FrameType::ChunkAck);
  ChunkAck d;
  std::string err;
  ASSERT_TRUE(decode_chunk_ack(body, d, err)) << err;
  EXPECT_EQ(d.slot, 4u);
  EXPECT_EQ(d.cumulative, a.cumulative);
  EXPECT_EQ(d.selective, a.selective);
  EXPECT_EQ(d.nacks, a.nacks);
  EXPECT_STREQ(nack_reason_name(d.nacks[0].reason), "bad_hash");
  expect_truncations_refused(body, ack_decoder());
}

TEST(upload_frames, ack_malformed) {
  ChunkAck a;
  a.cumulative = 10;
  a.selective = {{12, 14}};
  a.nacks = {{3, NackReason::BadHash}};
  std::string wire;
  encode_chunk_ack(wire, a);
  const std::string good = body_of(wire, FrameType::ChunkAck);
  // Offsets: slot 0, cumulative 4, n_sel 12, range 14..30, n_nack 30, nack 32 (index, reason 40).
  std::string b = good;
  put_u64(b, 14, 10);  // selective range at the cumulative point: it would be cumulative
  expect_refused(b, ack_decoder(), "starts below 11");
  b = good;
  put_u16(b, 12, 300);
  expect_refused(b, ack_decoder(), "selective_count 300 too big");
  b = good;
  put_u16(b, 30, 2);
  expect_refused(b, ack_decoder(), "nack_count 2 needs 18 bytes");
  b = good;
  b[40] = 0;
  expect_refused(b, ack_decoder(), "unknown reason 0");
  b = good;
  b[40] = 7;
  expect_refused(b, ack_decoder(), "unknown reason 7");
  b = good + "\x01";
  expect_refused(b, ack_decoder(), "trailing");
}

TEST(upload_frames, done_roundtrip_both_variants) {
  Decode dec = [](std::string_view b, std::string& e) {
    UploadDone d;
    return decode_upload_done(b, d, e);
  };
  UploadDone ok;
  ok.slot = 2;
  ok.file_size = 1ull << 33;
  ok.file_hash = hash_of(9);
  std::string wire;
  encode_upload_done(wire, ok);
  std::string body = body_of(wire, FrameType::UploadDone);
  UploadDone d;
  std::string err;
  ASSERT_TRUE(decode_upload_done(body, d, err)) << err;
  EXPECT_EQ(d.status, UploadStatus::Ok);
  EXPECT_EQ(d.file_size, 1ull << 33);
  EXPECT_EQ(d.file_hash, hash_of(9));
  expect_truncations_refused(body, dec);

  UploadDone bad;
  bad.slot = 2;
  bad.status = UploadStatus::Corrupt;
  bad.message = "whole-file sha256 differs from the ticket";
  wire.clear();
  encode_upload_done(wire, bad);
  body = body_of(wire, FrameType::UploadDone);
  ASSERT_TRUE(decode_upload_done(body, d, err)) << err;
  EXPECT_EQ(d.status, UploadStatus::Corrupt);
  EXPECT_EQ(d.message, bad.message);
  expect_truncations_refused(body, dec);
  std::string longmsg = body.substr(0, 6) + "\x04\x01" + std::string(1025, 'm');
  expect_refused(longmsg, dec, "limit 1024");
}

TEST(upload_frames, every_status_and_reason_has_a_name) {
  for (uint16_t s = 0; s <= kUploadStatusMax; s++) {
    EXPECT_STRNE(upload_status_name(static_cast<UploadStatus>(s)), "unknown") << s;
  }
  for (uint8_t r = 1; r <= kNackReasonMax; r++) {
    EXPECT_STRNE(nack_reason_name(static_cast<NackReason>(r)), "unknown") << int(r);
  }
}
